/* store/aliases_internal.h: what the store's other table files need from
 * aliases.c, inside their own write transactions. */
#ifndef ODESERVE_STORE_ALIASES_INTERNAL_H
#define ODESERVE_STORE_ALIASES_INTERNAL_H

#include "core/err.h"
#include "store/db.h"

/* ERR_CONFLICT (field "version", naming the aliases) when an alias of model
 * row `model_id` names `version`. */
err_code store_alias_guard(db *d, long long model_id, const char *name, int version, err *e);

/* Record the removal of every alias of model row `model_id` (about to be
 * deleted with the model) by `actor`. */
err_code store_alias_drop_all(db *d, long long model_id, const char *name, const char *actor,
                              err *e);

#endif
