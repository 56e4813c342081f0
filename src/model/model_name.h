/* model/model_name.h: the names of models and datasets.
 *
 * A name is 1 to MODEL_NAME_MAX characters from [A-Za-z0-9._-], and not
 * "." or ".." (dot-segments, which clients remove from URLs). Checked
 * everywhere a name enters: paths, documents, job specs, the store.
 * Stateless and thread-safe. */
#ifndef ODESERVE_MODEL_MODEL_NAME_H
#define ODESERVE_MODEL_MODEL_NAME_H

#include "core/err.h"

#include <stdbool.h>

#define MODEL_NAME_MAX 64

/* 1 when `name` is a valid name. */
bool model_name_ok(const char *name);

/* ERR_INVALID (field "name", saying what a name may hold) unless
 * model_name_ok(name). */
err_code model_name_check(const char *name, err *e);

#endif
