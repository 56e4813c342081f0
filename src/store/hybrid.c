/* store/hybrid.c: the model_hybrid_terms rows of a version. See
 * hybrid_internal.h. */
#include "store/hybrid_internal.h"
#include "store/stmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

err_code store_hybrid_insert(db *d, long long version_id, const model_def *def, err *e)
{
    if (def->kind != MODEL_KIND_HYBRID) return ERR_OK;
    const char *what = "storing the model's equations";
    const model_hybrid *h = def->hybrid;
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d,
                               "INSERT INTO model_hybrid_terms (version_id, role, idx, name, "
                               "equation, trainable, lower, upper) VALUES (?1, ?2, ?3, ?4, ?5, "
                               "?6, ?7, ?8)",
                               &st, what, e);
    for (size_t i = 0; !rc && i < h->n_state + h->n_par; i++) {
        const int state = i < h->n_state;
        const size_t k = state ? i : i - h->n_state;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        stmt_bind_int(st, 1, version_id);
        stmt_bind_text(st, 2, state ? "state" : "parameter");
        stmt_bind_int(st, 3, (long long)k);
        stmt_bind_text(st, 4, state ? h->state_names[k] : h->par_names[k]);
        if (state) {
            stmt_bind_text(st, 5, h->equations[k]);
        } else {
            stmt_bind_int(st, 6, h->trainable[k]);
            stmt_bind_finite(st, 7, h->lo[k]);
            stmt_bind_finite(st, 8, h->hi[k]);
        }
        rc = stmt_step_done(d, st, what, e);
    }
    sqlite3_finalize(st);
    return rc;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

err_code store_hybrid_load(db *d, long long version_id, model_def *def, const char **bad, err *e)
{
    if (def->kind != MODEL_KIND_HYBRID) return ERR_OK;
    const char *what = "reading the model's equations";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d,
                               "SELECT role, idx, name, equation, trainable, lower, upper FROM "
                               "model_hybrid_terms WHERE version_id = ?1 ORDER BY role DESC, idx",
                               &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, version_id);
    /* count the parameters first: the states come first ('state' > 'parameter') */
    size_t n_par = 0, n_state = 0;
    int row;
    while ((row = stmt_step_row(d, st, what, e)) == 1) {
        if (strcmp((const char *)sqlite3_column_text(st, 0), "state") == 0)
            n_state++;
        else
            n_par++;
    }
    if (row < 0) goto db_fail;
    if (n_state != def->state_dim) {
        *bad = "its equations are not one per state";
        goto out;
    }
    if (!(def->hybrid = model_hybrid_new(n_state, n_par))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory loading a model");
        goto out;
    }
    model_hybrid *h = def->hybrid;
    sqlite3_reset(st);
    size_t seen_s = 0, seen_p = 0;
    while (!*bad && (row = stmt_step_row(d, st, what, e)) == 1) {
        const int state = strcmp((const char *)sqlite3_column_text(st, 0), "state") == 0;
        const long long k = stmt_column_int_or(st, 1, -1);
        if (k != (long long)(state ? seen_s : seen_p)) {
            *bad = "its names are not numbered 0, 1, ...";
            break;
        }
        char *name = dup_col(st, 2);
        if (state) {
            h->state_names[k] = name;
            h->equations[k] = dup_col(st, 3);
            seen_s++;
            if (!name || !h->equations[k]) *bad = "a state row is incomplete";
        } else {
            h->par_names[k] = name;
            h->trainable[k] = sqlite3_column_int(st, 4) != 0;
            h->lo[k] = stmt_column_double_or(st, 5, -INFINITY);
            h->hi[k] = stmt_column_double_or(st, 6, INFINITY);
            seen_p++;
            if (!name) *bad = "a parameter row is incomplete";
        }
    }
    if (row < 0) goto db_fail;
    goto out;
db_fail:
    rc = ERR_DB;
out:
    sqlite3_finalize(st);
    return rc;
}
