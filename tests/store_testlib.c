/* tests/store_testlib.c: see store_testlib.h. */
#include "store_testlib.h"

#include "store/db_internal.h"
#include "store/jobs.h"
#include "store/migrate.h"

#include <check.h>
#include <float.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char topdir[PATH_MAX];
static char tmpdir[PATH_MAX];
static char dbpath[PATH_MAX + 16];

void stl_init(const char *prog)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    snprintf(topdir, sizeof topdir, "%s/%s.XXXXXX", base, prog);
    if (!mkdtemp(topdir)) {
        perror(topdir);
        exit(EXIT_FAILURE);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void stl_done(void)
{
    nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void stl_tmp_setup(void)
{
    int n = snprintf(tmpdir, sizeof tmpdir, "%s/test.XXXXXX", topdir);
    ck_assert(n > 0 && (size_t)n < sizeof tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/models.db", tmpdir);
}

void stl_tmp_teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *stl_db_path(void)
{
    return dbpath;
}

db *stl_open(void)
{
    db_opts o;
    db_opts_default(&o);
    o.path = dbpath;
    err e;
    err_clear(&e);
    db *d = NULL;
    ck_assert_msg(db_open(&d, &o, &e) == ERR_OK, "db_open: %s", e.message);
    ck_assert_msg(db_migrate(d, NULL, NULL, &e) == ERR_OK, "db_migrate: %s", e.message);
    return d;
}

db_conns *stl_pool(void)
{
    db_close(stl_open());
    db_opts o;
    db_opts_default(&o);
    o.path = dbpath;
    err e;
    err_clear(&e);
    db_conns *p = NULL;
    ck_assert_msg(db_conns_new(&p, &o, &e) == ERR_OK, "db_conns_new: %s", e.message);
    return p;
}

/* ---- SQL ---- */

void stl_exec_ok(db *d, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db_sqlite(d), sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
}

long long stl_q_int(db *d, const char *sql)
{
    long long v = -1;
    err e;
    err_clear(&e);
    ck_assert_msg(db_query_int(d, sql, &v, &e) == ERR_OK, "%s: %s", sql, e.message);
    return v;
}

char *stl_q_text(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db_sqlite(d), sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *s = strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* ---- example models ---- */

static uint64_t next_bits(uint64_t *s)
{
    *s ^= *s << 13; /* xorshift64 (Marsaglia 2003) */
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fill_params(model_def *d, size_t n, unsigned seed)
{
    d->n_params = n;
    d->params = malloc(n * sizeof *d->params);
    ck_assert_ptr_nonnull(d->params);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        double x;
        do { /* any finite double: every exponent, both signs */
            uint64_t bits = next_bits(&s);
            memcpy(&x, &bits, sizeof x);
        } while (!(x - x == 0));
        d->params[i] = x;
    }
    const double special[] = {1.0,   -0.0,    4.9406564584124654e-324, 2.2250738585072009e-308,
                              1e308, -DBL_MAX};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; i++)
        d->params[i] = special[i];
}

static mlp_layer linear(size_t in, size_t out, act_kind act)
{
    return (mlp_layer){MLP_LINEAR, in, out, act};
}

static mlp_layer elementwise(size_t width, act_kind act)
{
    return (mlp_layer){MLP_ELEMENTWISE, width, width, act};
}

void stl_ode_def(model_def *d, unsigned seed)
{
    model_def_init(d);
    d->kind = MODEL_KIND_ODE;
    d->description = strdup("damped spiral \xe2\x80\x94 trained 2026-11-20, \xc3\xbc"
                            "ber-tuned");
    d->state_dim = 2;
    d->augment_dim = 1;
    d->n_nets = 1;
    model_net *n = &d->nets[MODEL_NET_ODE_FIELD];
    n->in_dim = 3;
    n->time_input = true;
    n->n_layers = 4;
    n->layers[0] = elementwise(0, ACT_CUBE);
    n->layers[1] = linear(4, 8, ACT_TANH);
    n->layers[2] = elementwise(8, ACT_SIN);
    n->layers[3] = linear(8, 3, ACT_IDENTITY);
    model_solver *s = &d->solver;
    snprintf(s->method, sizeof s->method, "tsit5");
    s->rtol = 1e-7;
    s->atol = 1e-9;
    s->max_steps = 100000;
    s->first_step = 1e-3;
    s->min_step = 4.9406564584124654e-324;
    s->max_step = 0.5;
    fill_params(d, 40 + 27, seed);
    err e;
    err_clear(&e);
    ck_assert_msg(model_def_validate(d, &e) == ERR_OK, "%s: %s", e.field, e.message);
}

void stl_cde_def(model_def *d, unsigned seed)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = 3;
    d->hidden_dim = 4;
    d->channel_time = true;
    d->channel_intensity = true;
    d->interp = MODEL_INTERP_HERMITE_BDIFF;
    d->n_nets = 3;
    model_net *n = &d->nets[MODEL_NET_CDE_INITIAL];
    n->in_dim = 3;
    n->n_layers = 1;
    n->layers[0] = linear(3, 4, ACT_IDENTITY);
    n = &d->nets[MODEL_NET_CDE_FIELD];
    n->in_dim = 4;
    n->n_layers = 3;
    n->layers[0] = linear(4, 5, ACT_RELU);
    n->layers[1] = elementwise(0, ACT_SQUARE);
    n->layers[2] = linear(5, 12, ACT_TANH);
    n = &d->nets[MODEL_NET_CDE_READOUT];
    n->in_dim = 4;
    n->n_layers = 1;
    n->layers[0] = linear(4, 2, ACT_SIGMOID);
    model_solver *s = &d->solver;
    snprintf(s->method, sizeof s->method, "rk4");
    s->step = 0.015625;
    s->max_steps = 7;
    fill_params(d, 16 + 25 + 72 + 10, seed);
    err e;
    err_clear(&e);
    ck_assert_msg(model_def_validate(d, &e) == ERR_OK, "%s: %s", e.field, e.message);
}

static void assert_bits_eq(double a, double b, const char *what, size_t i)
{
    ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s[%zu]: %a != %a", what, i, a, b);
}

static void assert_solver_eq(const model_solver *a, const model_solver *b)
{
    ck_assert_str_eq(a->method, b->method);
    assert_bits_eq(a->rtol, b->rtol, "rtol", 0);
    assert_bits_eq(a->atol, b->atol, "atol", 0);
    ck_assert_int_eq(a->max_steps, b->max_steps);
    assert_bits_eq(a->first_step, b->first_step, "first_step", 0);
    assert_bits_eq(a->min_step, b->min_step, "min_step", 0);
    assert_bits_eq(a->max_step, b->max_step, "max_step", 0);
    assert_bits_eq(a->step, b->step, "step", 0);
}

void stl_assert_def_eq(const model_def *a, const model_def *b)
{
    ck_assert_int_eq(a->kind, b->kind);
    if (!a->description || !b->description)
        ck_assert_ptr_eq(a->description, b->description);
    else
        ck_assert_str_eq(a->description, b->description);
    ck_assert_uint_eq(a->state_dim, b->state_dim);
    ck_assert_uint_eq(a->augment_dim, b->augment_dim);
    ck_assert_uint_eq(a->input_channels, b->input_channels);
    ck_assert_uint_eq(a->hidden_dim, b->hidden_dim);
    ck_assert_int_eq(a->channel_time, b->channel_time);
    ck_assert_int_eq(a->channel_intensity, b->channel_intensity);
    ck_assert_int_eq(a->interp, b->interp);
    ck_assert_uint_eq(a->n_nets, b->n_nets);
    for (size_t i = 0; i < a->n_nets; i++) {
        const model_net *na = &a->nets[i], *nb = &b->nets[i];
        ck_assert_uint_eq(na->in_dim, nb->in_dim);
        ck_assert_int_eq(na->time_input, nb->time_input);
        ck_assert_uint_eq(na->n_layers, nb->n_layers);
        for (size_t j = 0; j < na->n_layers; j++) {
            const mlp_layer *la = &na->layers[j], *lb = &nb->layers[j];
            ck_assert_msg(la->kind == lb->kind && la->in == lb->in && la->out == lb->out &&
                              la->act == lb->act,
                          "net %zu layer %zu differs", i, j);
        }
    }
    assert_solver_eq(&a->solver, &b->solver);
    ck_assert_uint_eq(a->n_params, b->n_params);
    for (size_t i = 0; i < a->n_params; i++)
        assert_bits_eq(a->params[i], b->params[i], "params", i);
}

void stl_job_claim(db *d, long long want)
{
    err e;
    err_clear(&e);
    bool found = false;
    long long id = 0;
    char *spec = NULL;
    job_ckpt ck;
    ck_assert_int_eq(store_job_claim(d, &found, &id, &spec, &ck, &e), ERR_OK);
    ck_assert_msg(found && id == want, "claimed %lld, want %lld", found ? id : -1, want);
    free(spec);
    job_ckpt_free(&ck);
}
