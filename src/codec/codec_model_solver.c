/* codec/codec_model_solver.c: see codec_model_solver.h. */
#include "codec/codec_model_solver.h"

#include <math.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_packed.h"

#define F(buf, parent, child) codec_json_field(buf, sizeof buf, parent, child)

err_code codec_model_solver_decode(const json_t *v, const char *field, model_solver *s, err *e)
{
    static const char *const keys[] = {"method",   "rtol",     "atol", "max_steps", "first_step",
                                       "min_step", "max_step", "step", NULL};
    char f[ERR_FIELD_MAX];
    memset(s, 0, sizeof *s);
    if (codec_json_keys_check(v, field, keys, e) != ERR_OK) return ERR_INVALID;
    /* A field's path is made only for its error (snprintf on every request
     * was a visible share of the trajectory route's decode). */
    const json_t *m = json_object_get(v, "method");
    if (m) {
        const char *name;
        codec_packed_view pv;
        if (json_is_string(m) && !codec_packed_get(m, &pv)) /* codec_json_get_string's test */
            name = json_string_value(m);
        else if (codec_json_get_string(m, F(f, field, "method"), &name, e) != ERR_OK)
            return ERR_INVALID;
        const size_t len = strlen(name);
        if (len >= sizeof s->method || !name[0])
            return err_set(e, ERR_INVALID, F(f, field, "method"), "unknown method \"%.40s\"", name);
        memcpy(s->method, name, len + 1);
    }
    struct {
        const char *key;
        double *at;
    } pos[] = {
        {"rtol", &s->rtol},         {"atol", &s->atol},         {"first_step", &s->first_step},
        {"min_step", &s->min_step}, {"max_step", &s->max_step}, {"step", &s->step}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        const json_t *x = json_object_get(v, pos[i].key);
        if (!x) continue;
        if (json_is_real(x) && isfinite(json_real_value(x)) && json_real_value(x) > 0) {
            *pos[i].at = json_real_value(x); /* codec_json_get_double's answer, checked */
            continue;
        }
        if (codec_json_get_double(x, F(f, field, pos[i].key), pos[i].at, e) != ERR_OK)
            return ERR_INVALID;
        if (!(*pos[i].at > 0))
            return err_set(e, ERR_INVALID, f, "must be positive, got %.17g", *pos[i].at);
    }
    const json_t *ms = json_object_get(v, "max_steps");
    if (ms && codec_json_get_long(ms, F(f, field, "max_steps"), 1, 1000000000000L, &s->max_steps,
                                  e) != ERR_OK)
        return ERR_INVALID;
    err se;
    err_clear(&se);
    if (model_solver_validate(s, &se) != ERR_OK) {
        /* its fields are spelled "solver.x": re-root them under `field` */
        const char *leaf = strncmp(se.field, "solver.", 7) == 0 ? se.field + 7 : se.field;
        return err_set(e, se.code, F(f, field, leaf), "%s", se.message);
    }
    return ERR_OK;
}
