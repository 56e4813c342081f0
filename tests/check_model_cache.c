/* check_model_cache: the shared cache of loaded versions
 * (store/model_cache.h). A test build function counts what is built and
 * freed, so "built once" and "freed when the last user let go" are counts,
 * and the "built" object records what it was built from so a handle can be
 * checked against it. Run it under valgrind or ASan (and, for the threads,
 * once under -fsanitize=thread) to catch a handle used after it was freed. */
#include "build_config.h"

#include "core/log.h"
#include "store/db_internal.h"
#include "store/model_cache.h"
#include "store/jobs.h"
#include "store/models.h"
#include "store_testlib.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a build function that counts ---- */

static int n_builds, n_made, n_unbuilds; /* atomics: build calls, successes, unbuilds */
static int fail_next_build;              /* 1: the next build fails */
/* Called inside the next build (without the cache's lock), then cleared. */
static void (*during_build)(void);

struct built {
    size_t n_params;
    double first; /* params[0] */
    unsigned long long checksum;
};

static void *test_build(const model_def *def, err *e)
{
    __atomic_add_fetch(&n_builds, 1, __ATOMIC_RELAXED);
    void (*hook)(void) = __atomic_exchange_n(&during_build, NULL, __ATOMIC_ACQ_REL);
    if (hook) hook();
    if (__atomic_exchange_n(&fail_next_build, 0, __ATOMIC_ACQ_REL)) {
        err_set(e, ERR_INVALID, "vector_field", "test build refused");
        return NULL;
    }
    struct built *b = malloc(sizeof *b);
    if (!b) {
        err_set(e, ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    b->n_params = def->n_params;
    b->first = def->params[0];
    b->checksum = model_def_checksum(def);
    __atomic_add_fetch(&n_made, 1, __ATOMIC_RELAXED);
    return b;
}

static void test_unbuild(void *p)
{
    __atomic_add_fetch(&n_unbuilds, 1, __ATOMIC_RELAXED);
    free(p);
}

static int builds(void)
{
    return __atomic_load_n(&n_builds, __ATOMIC_RELAXED);
}

static int unbuilds(void)
{
    return __atomic_load_n(&n_unbuilds, __ATOMIC_RELAXED);
}

/* ---- fixture: a pool, a cache, a connection for the main thread ---- */

static db_conns *pool;
static db *conn;
static model_cache *cache;

static void cache_setup_cap(size_t capacity)
{
    n_builds = n_made = n_unbuilds = fail_next_build = 0;
    during_build = NULL;
    pool = stl_pool();
    err e;
    err_clear(&e);
    ck_assert_int_eq(db_conns_get(pool, &conn, &e), ERR_OK);
    ck_assert_int_eq(model_cache_new(&cache, pool, test_build, test_unbuild, capacity, &e), ERR_OK);
}

static void setup(void)
{
    stl_tmp_setup();
    cache_setup_cap(8);
}

static void teardown(void)
{
    model_cache_free(cache);
    cache = NULL;
    /* Every build was undone: nothing leaked, nothing freed twice. */
    ck_assert_int_eq(__atomic_load_n(&n_made, __ATOMIC_RELAXED), unbuilds());
    db_conns_free(pool);
    pool = NULL;
    stl_tmp_teardown();
}

static int put(const char *name, unsigned seed)
{
    model_def def;
    stl_ode_def(&def, seed);
    def.params[0] = seed; /* tells versions apart in the built object */
    err e;
    err_clear(&e);
    int v = 0;
    ck_assert_msg(store_model_put(conn, name, &def, &v, &e) == ERR_OK, "%s", e.message);
    model_def_free(&def);
    return v;
}

static const model_handle *get_ok(const char *name, int version)
{
    const model_handle *h = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(model_cache_get(cache, name, version, &h, &e) == ERR_OK, "get %s %d: %s", name,
                  version, e.message);
    ck_assert_ptr_nonnull(h);
    return h;
}

/* The handle is whole: its def, its built object and its name agree. */
static void check_handle(const model_handle *h, const char *name, int version, unsigned seed)
{
    ck_assert_str_eq(h->name, name);
    ck_assert_int_eq(h->version, version);
    const struct built *b = h->built;
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(b->n_params, h->def->n_params);
    ck_assert(b->checksum == model_def_checksum(h->def));
    ck_assert(h->def->params[0] == (double)seed);
    ck_assert(b->first == (double)seed);
}

/* ---- tests ---- */

START_TEST(second_get_shares_the_first_build)
{
    put("m", 1);
    const model_handle *a = get_ok("m", 1);
    const model_handle *b = get_ok("m", 1);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(builds(), 1);
    check_handle(a, "m", 1, 1);

    /* The handle's def is the stored version, field for field. */
    model_def want;
    stl_ode_def(&want, 1);
    want.params[0] = 1;
    stl_assert_def_eq(&want, a->def);
    model_def_free(&want);
    model_info info;
    model_version_info *vi = NULL;
    size_t n = 0;
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_model_get(conn, "m", &info, &vi, &n, &e), ERR_OK);
    ck_assert_str_eq(a->created_at, vi[0].created_at);
    free(vi);

    model_cache_release(cache, a);
    model_cache_release(cache, b);
    model_cache_release(cache, NULL); /* a no-op */
    ck_assert_int_eq(unbuilds(), 0);  /* kept, unused, for the next request */
    const model_handle *c = get_ok("m", 0);
    ck_assert_ptr_eq(c, a);
    ck_assert_int_eq(builds(), 1);
    model_cache_release(cache, c);
}
END_TEST

START_TEST(latest_follows_new_versions)
{
    put("m", 1);
    const model_handle *h1 = get_ok("m", 0);
    ck_assert_int_eq(h1->version, 1);
    ck_assert_int_eq(put("m", 2), 2);
    const model_handle *h2 = get_ok("m", 0);
    check_handle(h2, "m", 2, 2);
    ck_assert_int_eq(builds(), 2);
    const model_handle *again = get_ok("m", 2); /* the same entry as "latest" */
    ck_assert_ptr_eq(again, h2);
    check_handle(h1, "m", 1, 1); /* the older version stays served */
    model_cache_release(cache, h1);
    model_cache_release(cache, h2);
    model_cache_release(cache, again);
    ck_assert_int_eq(builds(), 2);
}
END_TEST

/* The version "latest" names, or 0 when get says there is none. */
static int latest_version(void)
{
    const model_handle *h = NULL;
    err e;
    err_clear(&e);
    err_code rc = model_cache_get(cache, "m", 0, &h, &e);
    if (rc == ERR_NOT_FOUND) return 0;
    ck_assert_msg(rc == ERR_OK, "%s", e.message);
    int v = h->version;
    model_cache_release(cache, h);
    return v;
}

/* "latest" is answered from memory between writes; every kind of write
 * through the store is seen by the next get: a new version, a deleted
 * version, a job's result, a deleted model and its re-creation. */
START_TEST(latest_sees_every_kind_of_write)
{
    err e;
    err_clear(&e);
    ck_assert_int_eq(latest_version(), 0);
    put("m", 1);
    ck_assert_int_eq(latest_version(), 1);
    ck_assert_int_eq(latest_version(), 1);
    put("m", 2);
    ck_assert_int_eq(latest_version(), 2);
    ck_assert_int_eq(store_version_delete(conn, "m", 2, &e), ERR_OK);
    ck_assert_int_eq(latest_version(), 1);

    model_def def;
    stl_ode_def(&def, 3);
    long long id = 0, got = 0;
    bool found = false;
    char *spec = NULL;
    job_ckpt ck;
    ck_assert_int_eq(store_job_create(conn, "m", "ds", "{}", 10, &id, &e), ERR_OK);
    ck_assert_int_eq(store_job_claim(conn, &found, &got, &spec, &ck, &e), ERR_OK);
    ck_assert(found && got == id);
    free(spec);
    job_ckpt_free(&ck);
    int v = 0;
    ck_assert_int_eq(store_job_succeed(conn, id, "m", &def, &v, &e), ERR_OK);
    model_def_free(&def);
    ck_assert_int_eq(v, 3); /* numbers are never reused */
    ck_assert_int_eq(latest_version(), 3);

    ck_assert_int_eq(store_model_delete(conn, "m", NULL, &e), ERR_OK);
    model_cache_drop(cache, "m", 0);
    ck_assert_int_eq(latest_version(), 0);
    put("m", 4);
    ck_assert_int_eq(latest_version(), 1); /* a new model starts again at 1 */
}
END_TEST

/* Once a put has returned on one thread, no get that starts after it on
 * another answers an older "latest". */
struct writer {
    atomic_int done;   /* the highest version whose put has returned */
    atomic_int failed; /* e is set (read by the main thread only after join) */
    err e;
};

static void *writer_run(void *arg)
{
    struct writer *w = arg;
    db *d = NULL;
    if (db_conns_get(pool, &d, &w->e) != ERR_OK) {
        atomic_store(&w->failed, 1);
        return NULL;
    }
    for (int v = 2; v <= 60; v++) {
        model_def def;
        stl_ode_def(&def, (unsigned)v);
        int got = 0;
        err_code rc = store_model_put(d, "m", &def, &got, &w->e);
        model_def_free(&def);
        if (rc != ERR_OK) {
            atomic_store(&w->failed, 1);
            break;
        }
        atomic_store(&w->done, got);
    }
    return NULL;
}

START_TEST(latest_is_never_older_than_a_finished_put)
{
    put("m", 1);
    struct writer w;
    atomic_init(&w.done, 1);
    atomic_init(&w.failed, 0);
    err_clear(&w.e);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, writer_run, &w), 0);
    int last = 0, gets = 0;
    while (last < 60 && !atomic_load(&w.failed)) {
        int before = atomic_load(&w.done);
        int v = latest_version();
        ck_assert_msg(v >= before, "latest answered %d after version %d was stored", v, before);
        ck_assert_int_ge(v, last);
        last = v;
        gets++;
    }
    pthread_join(th, NULL);
    ck_assert_msg(w.e.code == ERR_OK, "writer: %s", w.e.message);
    ck_assert_int_eq(latest_version(), 60);
    ck_assert_int_gt(gets, 1);
}
END_TEST

/* A model deleted in the store and re-created under its name, before
 * anyone called model_cache_drop (the DELETE handler drops after the
 * commit): "latest" and "version 1" are the new model's, not the deleted
 * one's cached version 1. */
START_TEST(recreated_model_is_not_served_from_before_its_deletion)
{
    err e;
    err_clear(&e);
    put("m", 7);
    const model_handle *h = get_ok("m", 0);
    model_cache_release(cache, h);
    ck_assert_int_eq(store_model_delete(conn, "m", NULL, &e), ERR_OK);
    ck_assert_int_eq(put("m", 9), 1);
    h = get_ok("m", 0);
    check_handle(h, "m", 1, 9);
    model_cache_release(cache, h);
    h = get_ok("m", 1);
    check_handle(h, "m", 1, 9);
    model_cache_release(cache, h);

    /* the same through deleting the last version, which takes the model */
    ck_assert_int_eq(store_version_delete(conn, "m", 1, &e), ERR_OK);
    ck_assert_int_eq(put("m", 11), 1);
    h = get_ok("m", 1);
    check_handle(h, "m", 1, 11);
    model_cache_release(cache, h);
}
END_TEST

START_TEST(errors_name_the_field)
{
    put("m", 1);
    const model_handle *h = (const model_handle *)&h;
    err e;
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "nope", 0, &h, &e), ERR_NOT_FOUND);
    ck_assert_str_eq(e.field, "name");
    ck_assert_str_eq(e.message, "no model named \"nope\"");
    ck_assert_ptr_null(h);
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "nope", 2, &h, &e), ERR_NOT_FOUND);
    ck_assert_str_eq(e.field, "name");
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "m", 9, &h, &e), ERR_NOT_FOUND);
    ck_assert_str_eq(e.field, "version");
    ck_assert_str_eq(e.message, "model \"m\" has no version 9");
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "a b", 1, &h, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "name");
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "m", -1, &h, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "version");
    ck_assert_int_eq(builds(), 0);

    /* A failed build is reported as the builder said, and not cached. */
    fail_next_build = 1;
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "m", 1, &h, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "vector_field");
    ck_assert_str_eq(e.message, "test build refused");
    ck_assert_int_eq(builds(), 1);
    ck_assert_int_eq(unbuilds(), 0);
    h = get_ok("m", 1);
    ck_assert_int_eq(builds(), 2);
    model_cache_release(cache, h);
}
END_TEST

START_TEST(drop_keeps_held_handles_valid)
{
    put("m", 1);
    put("m", 2);
    const model_handle *h1 = get_ok("m", 1), *h2 = get_ok("m", 2);
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_model_delete(conn, "m", NULL, &e), ERR_OK);
    model_cache_drop(cache, "m", 0);
    ck_assert_int_eq(unbuilds(), 0); /* both still held */
    /* Reading through the handles after the drop: valgrind/ASan would
     * report a use after free here. */
    check_handle(h1, "m", 1, 1);
    check_handle(h2, "m", 2, 2);
    /* The model is gone for new requests... */
    const model_handle *h = NULL;
    err_clear(&e);
    ck_assert_int_eq(model_cache_get(cache, "m", 1, &h, &e), ERR_NOT_FOUND);
    /* ...and a new model of the same name is not confused with the old. */
    ck_assert_int_eq(put("m", 7), 1);
    const model_handle *fresh = get_ok("m", 1);
    ck_assert_ptr_ne(fresh, h1);
    check_handle(fresh, "m", 1, 7);
    check_handle(h1, "m", 1, 1);
    model_cache_release(cache, h1);
    ck_assert_int_eq(unbuilds(), 1); /* freed by its last release */
    model_cache_release(cache, h2);
    ck_assert_int_eq(unbuilds(), 2);
    model_cache_release(cache, fresh);
    ck_assert_int_eq(unbuilds(), 2); /* linked: kept */
}
END_TEST

START_TEST(drop_one_version)
{
    put("m", 1);
    put("m", 2);
    put("other", 3);
    const model_handle *h;
    model_cache_release(cache, get_ok("m", 1));
    model_cache_release(cache, get_ok("m", 2));
    model_cache_release(cache, get_ok("other", 1));
    ck_assert_int_eq(builds(), 3);
    model_cache_drop(cache, "m", 2);
    ck_assert_int_eq(unbuilds(), 1); /* unused: freed at once */
    model_cache_drop(cache, "m", 5); /* not cached: nothing happens */
    model_cache_drop(cache, NULL, 0);
    ck_assert_int_eq(unbuilds(), 1);
    h = get_ok("m", 1);
    model_cache_release(cache, h);
    h = get_ok("other", 1);
    model_cache_release(cache, h);
    ck_assert_int_eq(builds(), 3);
    h = get_ok("m", 2); /* still stored: loaded again */
    model_cache_release(cache, h);
    ck_assert_int_eq(builds(), 4);
}
END_TEST

static void cap2_setup(void)
{
    stl_tmp_setup();
    cache_setup_cap(2);
}

START_TEST(capacity_evicts_least_recently_used)
{
    put("a", 1);
    put("b", 2);
    put("c", 3);
    model_cache_release(cache, get_ok("a", 1)); /* unused: a */
    model_cache_release(cache, get_ok("b", 1)); /* b a */
    ck_assert_int_eq(unbuilds(), 0);
    model_cache_release(cache, get_ok("c", 1)); /* c b [a evicted] */
    ck_assert_int_eq(builds(), 3);
    ck_assert_int_eq(unbuilds(), 1);
    model_cache_release(cache, get_ok("b", 1)); /* hit: b c */
    ck_assert_int_eq(builds(), 3);
    model_cache_release(cache, get_ok("a", 1)); /* miss: a b [c evicted] */
    ck_assert_int_eq(builds(), 4);
    ck_assert_int_eq(unbuilds(), 2);
    model_cache_release(cache, get_ok("b", 1)); /* hit */
    ck_assert_int_eq(builds(), 4);
    model_cache_release(cache, get_ok("c", 1)); /* miss */
    ck_assert_int_eq(builds(), 5);
    ck_assert_int_eq(unbuilds(), 3);

    /* Held entries are not counted against the capacity, nor evicted. */
    const model_handle *ha = get_ok("a", 1), *hb = get_ok("b", 1), *hc = get_ok("c", 1);
    ck_assert_int_eq(unbuilds(), 3);
    check_handle(ha, "a", 1, 1);
    check_handle(hb, "b", 1, 2);
    check_handle(hc, "c", 1, 3);
    model_cache_release(cache, ha);
    model_cache_release(cache, hb);
    model_cache_release(cache, hc); /* c b [a evicted] */
    ck_assert_int_eq(unbuilds(), 4);
}
END_TEST

static void cap0_setup(void)
{
    stl_tmp_setup();
    cache_setup_cap(0);
}

START_TEST(capacity_zero_keeps_only_held_entries)
{
    put("m", 1);
    const model_handle *a = get_ok("m", 1), *b = get_ok("m", 1);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(builds(), 1);
    model_cache_release(cache, a);
    ck_assert_int_eq(unbuilds(), 0);
    model_cache_release(cache, b);
    ck_assert_int_eq(unbuilds(), 1);
    model_cache_release(cache, get_ok("m", 1));
    ck_assert_int_eq(builds(), 2);
}
END_TEST

/* A drop while a load is in flight: the loaded copy (which may predate the
 * drop) is handed to its caller but not kept. */
static void drop_m(void)
{
    model_cache_drop(cache, "m", 0);
}

START_TEST(drop_during_a_load_is_not_undone)
{
    put("m", 1);
    during_build = drop_m;
    const model_handle *h = get_ok("m", 1);
    check_handle(h, "m", 1, 1);
    const model_handle *again = get_ok("m", 1);
    ck_assert_ptr_ne(again, h); /* the first was not cached */
    ck_assert_int_eq(builds(), 2);
    model_cache_release(cache, h);
    ck_assert_int_eq(unbuilds(), 1);
    model_cache_release(cache, again);
    ck_assert_int_eq(unbuilds(), 1);
}
END_TEST

/* Two loads of one version race: the first to insert wins, the other's
 * copy is freed and its caller gets the winner. Here the race is made
 * deterministic by a nested get from inside the first build. */
static const model_handle *inner;

static void nested_get(void)
{
    inner = get_ok("m", 1);
}

START_TEST(racing_loads_share_the_winner)
{
    put("m", 1);
    during_build = nested_get;
    const model_handle *outer = get_ok("m", 1);
    ck_assert_ptr_eq(outer, inner);
    ck_assert_int_eq(builds(), 2);
    ck_assert_int_eq(unbuilds(), 1); /* the loser's copy */
    model_cache_release(cache, outer);
    model_cache_release(cache, inner);
    ck_assert_int_eq(unbuilds(), 1);
}
END_TEST

/* ---- threads ---- */

enum { HAMMERS = 8, ROUNDS = 300, N_NAMES = 3 };
static const char *const hammer_names[N_NAMES] = {"a", "b", "c"};

struct hammer {
    unsigned seed;
    int gets;
    err e;
};

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Random gets (a version or latest), a short hold, releases, and now and
 * then a drop, from many threads at once. Every handle must be whole. */
static void *hammer_run(void *arg)
{
    struct hammer *t = arg;
    err_clear(&t->e);
    const model_handle *held[4] = {NULL, NULL, NULL, NULL};
    for (int r = 0; r < ROUNDS && !t->e.code; r++) {
        unsigned k = rnd(&t->seed);
        const char *name = hammer_names[k % N_NAMES];
        int version = (int)((k / N_NAMES) % 3); /* 0 = latest, 1, 2 */
        size_t slot = (k / 9) % 4;
        if (k % 23 == 0) model_cache_drop(cache, name, (int)(k % 2) * version);
        model_cache_release(cache, held[slot]);
        held[slot] = NULL;
        err e;
        err_clear(&e);
        const model_handle *h = NULL;
        if (model_cache_get(cache, name, version, &h, &e)) {
            t->e = e;
            break;
        }
        t->gets++;
        const struct built *b = h->built;
        int want = version ? version : 2;
        /* Versions were put with seed = 10 * name index + version. */
        double seed = 10.0 * (double)(k % N_NAMES) + want;
        if (strcmp(h->name, name) != 0 || h->version != want || b->n_params != h->def->n_params ||
            b->first != seed || h->def->params[0] != seed)
            err_set(&t->e, ERR_INTERNAL, NULL, "handle for %s v%d is not what was asked", name,
                    version);
        held[slot] = h;
    }
    for (int i = 0; i < 4; i++)
        model_cache_release(cache, held[i]);
    return NULL;
}

START_TEST(threads_hammer_get_release_drop)
{
    for (int i = 0; i < N_NAMES; i++)
        for (int v = 1; v <= 2; v++)
            put(hammer_names[i], (unsigned)(10 * i + v));
    struct hammer t[HAMMERS];
    pthread_t th[HAMMERS];
    for (int i = 0; i < HAMMERS; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].seed = 7919u * (unsigned)(i + 1);
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer_run, &t[i]), 0);
    }
    int gets = 0;
    for (int i = 0; i < HAMMERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(t[i].e.code == ERR_OK, "thread %d: %s", i, t[i].e.message);
        gets += t[i].gets;
    }
    ck_assert_int_eq(gets, HAMMERS * ROUNDS);
    /* Far fewer builds than gets: the cache served most of them. */
    ck_assert_int_lt(builds(), gets / 2);
    /* Everything released: what is left is at most `capacity` entries. */
    ck_assert_int_le(builds() - unbuilds(), 2);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("model_cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, second_get_shares_the_first_build);
    tcase_add_test(tc, latest_follows_new_versions);
    tcase_add_test(tc, latest_sees_every_kind_of_write);
    tcase_add_test(tc, latest_is_never_older_than_a_finished_put);
    tcase_add_test(tc, recreated_model_is_not_served_from_before_its_deletion);
    tcase_add_test(tc, errors_name_the_field);
    tcase_add_test(tc, drop_keeps_held_handles_valid);
    tcase_add_test(tc, drop_one_version);
    tcase_add_test(tc, drop_during_a_load_is_not_undone);
    tcase_add_test(tc, racing_loads_share_the_winner);
    suite_add_tcase(s, tc);

    tc = tcase_create("capacity");
    tcase_add_checked_fixture(tc, cap2_setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, capacity_evicts_least_recently_used);
    tcase_add_test(tc, threads_hammer_get_release_drop);
    suite_add_tcase(s, tc);

    tc = tcase_create("capacity0");
    tcase_add_checked_fixture(tc, cap0_setup, teardown);
    tcase_add_test(tc, capacity_zero_keeps_only_held_entries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_level_set(LOG_LVL_WARN);
    stl_init("check_model_cache");
    int rc = tu_suite_run(cache_suite());
    stl_done();
    return rc;
}
