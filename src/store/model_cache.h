/* store/model_cache.h: loaded model versions, shared between request threads.
 *
 * A version is loaded from SQLite and built (by the caller's `build`
 * function, e.g. ode_model_new) once, then served from memory by reference:
 * model_cache_get returns a counted handle that stays valid until released,
 * even if the model is deleted meanwhile (the entry is unlinked at once and
 * freed by its last user). Versions are immutable, so an entry never goes
 * stale. Version 0 ("latest") is answered from memory until a write to
 * models ends anywhere in this process (store_version_changes), then with one
 * indexed query: a version uploaded or deleted by any thread is seen at
 * once; a version written by another process is not (the daemon holds its
 * database exclusively: db_claim).
 *
 * Thread-safe: one mutex guards the table; loading and building happen
 * outside it (two threads may race to build the same version: the first to
 * insert wins and the other's copy is freed). At most `capacity` unused
 * entries are kept (least recently used dropped first). Ownership: the
 * cache owns its entries (model_def and built object); a handle borrows
 * one until model_cache_release. */
#ifndef ODESERVE_STORE_MODEL_CACHE_H
#define ODESERVE_STORE_MODEL_CACHE_H

#include "core/err.h"
#include "model/model_def.h"
#include "store/db.h"

typedef struct model_cache model_cache;

/* Build an executable object from a validated model_def (borrowed for the
 * call). NULL with e filled on failure. A NULL build function caches the
 * model_def alone (handles then have built = NULL); a NULL unbuild frees
 * nothing. */
typedef void *(*model_build_fn)(const model_def *def, err *e);
typedef void (*model_unbuild_fn)(void *built);

typedef struct model_handle {
    const char *name;
    int version;
    const model_def *def; /* as stored */
    void *built;          /* what build returned */
    char created_at[32];
} model_handle;

err_code model_cache_new(model_cache **out, db_conns *conns, model_build_fn build,
                         model_unbuild_fn unbuild, size_t capacity, err *e);
void model_cache_free(model_cache *c); /* every handle must have been released */

/* The handle for `name` at `version` (0 = latest). ERR_NOT_FOUND (field
 * "name" or "version") when absent. */
err_code model_cache_get(model_cache *c, const char *name, int version, const model_handle **out,
                         err *e);
void model_cache_release(model_cache *c, const model_handle *h);

/* Lookups since the cache was made: answered from memory (hits) or loaded
 * from the database (misses, failed loads included). For metrics. */
void model_cache_counts(model_cache *c, unsigned long long *hits, unsigned long long *misses);

/* Forget `name` (version 0: every version), e.g. after a DELETE. */
void model_cache_drop(model_cache *c, const char *name, int version);

#endif
