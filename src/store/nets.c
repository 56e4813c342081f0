/* store/nets.c: the model_nets and model_layers rows of a version. See
 * nets_internal.h. Statements are prepared per call: a put or a load (a
 * cache miss) is dominated by the disk and the rows, not by the parse. */
#include "store/nets_internal.h"
#include "store/stmt.h"

#include "model/model_rows.h"

err_code store_net_insert(db *d, long long version_id, const model_def *def, err *e)
{
    const char *what = "storing the model's networks";
    sqlite3_stmt *net = NULL, *layer = NULL;
    err_code rc = stmt_prepare(d,
                               "INSERT INTO model_nets (version_id, net, name, in_dim, time_input) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)",
                               &net, what, e);
    if (!rc)
        rc = stmt_prepare(d,
                          "INSERT INTO model_layers (version_id, net, layer, kind, in_dim, "
                          "out_dim, activation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          &layer, what, e);
    for (size_t i = 0; !rc && i < def->n_nets; i++) {
        model_net_row n;
        model_rows_net_encode(def, i, &n);
        sqlite3_reset(net);
        stmt_bind_int(net, 1, version_id);
        stmt_bind_int(net, 2, n.net);
        stmt_bind_text(net, 3, n.name);
        stmt_bind_int(net, 4, n.in_dim);
        stmt_bind_int(net, 5, n.time_input);
        rc = stmt_step_done(d, net, what, e);
        for (size_t j = 0; !rc && j < def->nets[i].n_layers; j++) {
            model_layer_row l;
            model_rows_layer_encode(def, i, j, &l);
            sqlite3_reset(layer);
            stmt_bind_int(layer, 1, version_id);
            stmt_bind_int(layer, 2, l.net);
            stmt_bind_int(layer, 3, l.layer);
            stmt_bind_text(layer, 4, l.kind);
            stmt_bind_int(layer, 5, l.in_dim);
            stmt_bind_int(layer, 6, l.out_dim);
            stmt_bind_text(layer, 7, l.activation);
            rc = stmt_step_done(d, layer, what, e);
        }
    }
    sqlite3_finalize(net);
    sqlite3_finalize(layer);
    return rc;
}

static err_code load_nets(db *d, long long version_id, model_def *def, const char **bad, err *e)
{
    const char *what = "reading the model's networks";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d,
                               "SELECT net, in_dim, time_input FROM model_nets "
                               "WHERE version_id = ?1 ORDER BY net",
                               &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, version_id);
    int row = 0;
    while (!*bad && (row = stmt_step_row(d, st, what, e)) == 1) {
        model_net_row n = {.net = stmt_column_int_or(st, 0, -1),
                           .in_dim = stmt_column_int_or(st, 1, -1),
                           .time_input = sqlite3_column_int(st, 2) != 0};
        *bad = model_rows_net_decode(&n, def);
    }
    if (!*bad) *bad = model_rows_nets_done(def);
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : ERR_OK;
}

static err_code load_layers(db *d, long long version_id, model_def *def, const char **bad, err *e)
{
    const char *what = "reading the model's layers";
    sqlite3_stmt *st = NULL;
    err_code rc =
        stmt_prepare(d,
                     "SELECT net, layer, kind, in_dim, out_dim, activation FROM model_layers "
                     "WHERE version_id = ?1 ORDER BY net, layer",
                     &st, what, e);
    if (rc) return rc;
    stmt_bind_int(st, 1, version_id);
    int row = 0;
    while (!*bad && (row = stmt_step_row(d, st, what, e)) == 1) {
        model_layer_row l = {.net = stmt_column_int_or(st, 0, -1),
                             .layer = stmt_column_int_or(st, 1, -1),
                             .kind = (const char *)sqlite3_column_text(st, 2),
                             .in_dim = stmt_column_int_or(st, 3, -1),
                             .out_dim = stmt_column_int_or(st, 4, -1),
                             .activation = (const char *)sqlite3_column_text(st, 5)};
        *bad = model_rows_layer_decode(&l, def);
    }
    if (!*bad) *bad = model_rows_layers_done(def);
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : ERR_OK;
}

err_code store_net_load(db *d, long long version_id, model_def *def, const char **bad, err *e)
{
    err_code rc = load_nets(d, version_id, def, bad, e);
    if (!rc && !*bad) rc = load_layers(d, version_id, def, bad, e);
    return rc;
}
