/* model/model_name.h: the names of models, datasets and version aliases.
 *
 * A name is 1 to MODEL_NAME_MAX characters from [A-Za-z0-9._-], and not
 * "." or ".." (dot-segments, which clients remove from URLs). An alias
 * ("stable", "canary") is 1 to MODEL_ALIAS_MAX characters from [a-z0-9_-]
 * starting with a letter, and not "latest": so a version reference is a
 * number, "latest" or an alias, and never two of them. Checked everywhere a
 * name enters: paths, documents, job specs, the store.
 * Stateless and thread-safe. */
#ifndef ODESERVE_MODEL_MODEL_NAME_H
#define ODESERVE_MODEL_MODEL_NAME_H

#include "core/err.h"

#include <stdbool.h>

#define MODEL_NAME_MAX 64
#define MODEL_ALIAS_MAX 32

/* 1 when `name` is a valid name. */
bool model_name_ok(const char *name);

/* ERR_INVALID (field "name", saying what a name may hold) unless
 * model_name_ok(name). */
err_code model_name_check(const char *name, err *e);

/* A reference to a version as a client writes it: a number, "latest"
 * (version 0, alias ""), or an alias (version 0, alias set). */
typedef struct model_version_ref {
    int version;
    char alias[MODEL_ALIAS_MAX + 1];
} model_version_ref;

/* Read a reference from text ("3", "latest", "stable"): false when it is
 * none of them (a sign, a leading zero, more than 9 digits, a bad alias). */
bool model_version_ref_parse(const char *text, model_version_ref *out);

/* 1 when `alias` is a valid alias. */
bool model_alias_ok(const char *alias);

/* ERR_INVALID (field `field`, saying what an alias may hold) unless
 * model_alias_ok(alias). */
err_code model_alias_check(const char *alias, const char *field, err *e);

#endif
