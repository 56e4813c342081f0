/* store/model_row.c: see model_row_internal.h. */
#include "store/model_row_internal.h"

#include "store/stmt.h"

#include <sqlite3.h>

err_code store_model_row_none(const char *name, err *e)
{
    return err_set(e, ERR_NOT_FOUND, "name", "no model named \"%s\"", name);
}

err_code store_model_row_id(db *d, const char *name, long long *id, err *e)
{
    const char *what = "reading the model";
    sqlite3_stmt *st = NULL;
    err_code rc = stmt_prepare(d, "SELECT id FROM models WHERE name = ?1", &st, what, e);
    if (rc) return rc;
    stmt_bind_text(st, 1, name);
    int row = stmt_step_row(d, st, what, e);
    if (row == 1) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return row < 0 ? ERR_DB : row == 0 ? store_model_row_none(name, e) : ERR_OK;
}
