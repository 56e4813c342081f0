/* store/model_cache.c: loaded model versions, shared by reference. See
 * model_cache.h.
 *
 * DESIGN
 * Entries live in a chained hash table keyed by (name, version). An entry
 * carries a reference count of the handles out; the handle is the entry's
 * first member, so a release finds its entry without a lookup. Entries
 * nobody holds sit on an LRU list (most recently released first); when more
 * than `capacity` of them wait there, the oldest are unlinked and freed.
 *
 * Loading and building run without the lock: they may take milliseconds
 * (SQLite, a large parameter vector) and must not stall requests for other
 * models. Two threads that miss the same key both load it; the first to
 * insert wins and the other frees its copy and takes the winner's.
 *
 * Drops and loads in flight. A load that began before a drop may have read
 * the version the drop was about (a model deleted and re-created under the
 * same name starts again at version 1). Every drop bumps `generation`, and
 * a load inserts its entry only if no drop happened since it began;
 * otherwise it hands out a private, unlinked entry, freed by its release.
 * So after model_cache_drop returns, no get returns data loaded before it.
 * Deletions are also seen without a drop: a get that finds the store's
 * deletion count (store_version_deletions) moved since the last get drops
 * every entry first, as model_cache_drop does. Otherwise a model deleted
 * and re-created under its name (at version 1 again) could be answered
 * with the deleted model's cached version 1 in the moment between the
 * deletion's commit and the caller's drop. Deletions are rare; what is
 * dropped is loaded again on demand.
 *
 * An unlinked entry (dropped, or private) is freed by whoever brings its
 * count to zero; nothing else can reach it. Freeing (the caller's unbuild
 * and model_def_free) always happens outside the lock.
 *
 * "Latest". Resolving version 0 took an SQLite read transaction per request
 * (two fcntl locks, an fstat, a cold B-tree walk: a sizeable share of a
 * small request's overhead; docs/benchmarks-archive.md, "latest" memo). A small direct-mapped memo keeps each
 * name's answer with the value store_version_changes() had before the query
 * that produced it; an answer is used only while that counter has not moved,
 * i.e. while no write to models has ended in this process since. Reading
 * the counter before the query and writers bumping it after their commit
 * make a stale answer impossible: a commit the query missed bumps the
 * counter past the one stored. Writes by other processes are not seen, which
 * is why the daemon claims its database exclusively (db_claim). */
#include "store/model_cache.h"
#include "store/models.h"
#include "store/versions.h"

#include "core/log.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    model_handle h; /* what get hands out; h.name points at name below */
    char name[MODEL_NAME_MAX + 1];
    model_def def;      /* h.def points here */
    unsigned refs;      /* handles out */
    bool linked;        /* in the table; false: freed by the release that drops refs to 0 */
    struct entry *next; /* hash chain; after unlinking, a to-free list */
    struct entry *lru_prev, *lru_next; /* linked entries with refs == 0 */
};

#define LATEST_SLOTS 64 /* a power of two; a collision only costs a query */

struct latest {
    char name[MODEL_NAME_MAX + 1]; /* "" = empty slot */
    int version;
    unsigned long changes; /* store_version_changes() before the query */
};

struct model_cache {
    pthread_mutex_t mu; /* guards everything below and every entry's refs, linked, links */
    db_conns *conns;
    model_build_fn build;
    model_unbuild_fn unbuild;
    size_t capacity;          /* unused entries kept */
    struct entry **buckets;   /* n_buckets chains */
    size_t n_buckets;         /* a power of two */
    size_t n_linked;          /* entries in the table */
    struct entry *lru_head;   /* most recently released */
    struct entry *lru_tail;   /* next to evict */
    size_t n_unused;          /* entries on the LRU list */
    unsigned long generation; /* bumped by every drop */
    unsigned long deletions;  /* store_version_deletions() as of the last drop of everything */
    struct latest latest[LATEST_SLOTS];
    unsigned long long hits, misses; /* model_cache_get answered from memory / loaded */
};

static struct entry *entry_of(const model_handle *h)
{
    return (struct entry *)(void *)((char *)(uintptr_t)h - offsetof(struct entry, h));
}

static size_t key_hash(const char *name, int version)
{
    uint64_t x = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        x = (x ^ *p) * 1099511628211ull;
    x = (x ^ (uint64_t)(unsigned)version) * 1099511628211ull;
    return (size_t)(x ^ (x >> 29));
}

static struct entry **bucket_of(model_cache *c, const char *name, int version)
{
    return &c->buckets[key_hash(name, version) & (c->n_buckets - 1)];
}

static struct entry *find(model_cache *c, const char *name, int version)
{
    for (struct entry *en = *bucket_of(c, name, version); en; en = en->next)
        if (en->h.version == version && strcmp(en->name, name) == 0) return en;
    return NULL;
}

/* ---- LRU list of unused entries ---- */

static void lru_remove(model_cache *c, struct entry *en)
{
    if (en->lru_prev)
        en->lru_prev->lru_next = en->lru_next;
    else
        c->lru_head = en->lru_next;
    if (en->lru_next)
        en->lru_next->lru_prev = en->lru_prev;
    else
        c->lru_tail = en->lru_prev;
    en->lru_prev = en->lru_next = NULL;
    c->n_unused--;
}

static void lru_push(model_cache *c, struct entry *en)
{
    en->lru_prev = NULL;
    en->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = en;
    else
        c->lru_tail = en;
    c->lru_head = en;
    c->n_unused++;
}

/* ---- the table ---- */

/* Double the buckets when the chains grow long; on failure keep the old
 * ones (longer chains, still correct). */
static void maybe_grow(model_cache *c)
{
    if (c->n_linked <= c->n_buckets) return;
    size_t n = c->n_buckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (struct entry *en = c->buckets[i], *next; en; en = next) {
            next = en->next;
            struct entry **slot = &b[key_hash(en->name, en->h.version) & (n - 1)];
            en->next = *slot;
            *slot = en;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = n;
}

static void link_entry(model_cache *c, struct entry *en)
{
    struct entry **slot = bucket_of(c, en->name, en->h.version);
    en->next = *slot;
    *slot = en;
    en->linked = true;
    c->n_linked++;
    maybe_grow(c);
}

/* Take `en` out of the table (and off the LRU list). */
static void unlink_entry(model_cache *c, struct entry *en)
{
    for (struct entry **p = bucket_of(c, en->name, en->h.version); *p; p = &(*p)->next) {
        if (*p == en) {
            *p = en->next;
            break;
        }
    }
    en->next = NULL;
    en->linked = false;
    c->n_linked--;
    if (en->refs == 0) lru_remove(c, en);
}

/* A new handle on a linked entry. */
static void acquire(model_cache *c, struct entry *en)
{
    if (en->refs++ == 0) lru_remove(c, en);
}

/* Unlink the least recently used entries beyond capacity; returns them as
 * a list (through next) to free outside the lock. */
static struct entry *evict(model_cache *c)
{
    struct entry *dead = NULL;
    while (c->n_unused > c->capacity) {
        struct entry *en = c->lru_tail;
        unlink_entry(c, en);
        en->next = dead;
        dead = en;
    }
    return dead;
}

static void entry_free(model_cache *c, struct entry *en)
{
    if (en->h.built && c->unbuild) c->unbuild(en->h.built);
    model_def_free(&en->def);
    free(en);
}

static void free_list(model_cache *c, struct entry *en)
{
    while (en) {
        struct entry *next = en->next;
        entry_free(c, en);
        en = next;
    }
}

/* Unlink the entries of `name` (NULL: every name) at `version` (0: all)
 * and stop loads in flight from inserting; returns the unused ones as a
 * list to free outside the lock. Under the lock. */
static struct entry *unlink_matching(model_cache *c, const char *name, int version)
{
    struct entry *dead = NULL;
    c->generation++;
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (struct entry *en = c->buckets[i], *next; en; en = next) {
            next = en->next;
            if ((name && strcmp(en->name, name) != 0) || (version != 0 && en->h.version != version))
                continue;
            bool unused = en->refs == 0;
            unlink_entry(c, en);
            if (unused) { /* else freed by its last release */
                en->next = dead;
                dead = en;
            }
        }
    }
    return dead;
}

/* ---- public ---- */

err_code model_cache_new(model_cache **out, db_conns *conns, model_build_fn build,
                         model_unbuild_fn unbuild, size_t capacity, err *e)
{
    *out = NULL;
    if (!conns) return err_set(e, ERR_INTERNAL, NULL, "model_cache_new: no connection set");
    model_cache *c = calloc(1, sizeof *c);
    if (!c) return err_set(e, ERR_NOMEM, NULL, "out of memory creating the model cache");
    c->n_buckets = 16;
    if (!(c->buckets = calloc(c->n_buckets, sizeof *c->buckets))) {
        free(c);
        return err_set(e, ERR_NOMEM, NULL, "out of memory creating the model cache");
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->buckets);
        free(c);
        return err_set(e, ERR_NOMEM, NULL, "cannot create the model cache's mutex");
    }
    c->conns = conns;
    c->build = build;
    c->unbuild = unbuild;
    c->capacity = capacity;
    c->deletions = store_version_deletions();
    *out = c;
    return ERR_OK;
}

void model_cache_free(model_cache *c)
{
    if (!c) return;
    size_t held = 0;
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (struct entry *en = c->buckets[i], *next; en; en = next) {
            next = en->next;
            if (en->refs == 0)
                entry_free(c, en);
            else
                held++; /* a caller's bug: leave it to them rather than free under them */
        }
    }
    if (held) log_error("model_cache_free_held", "entries=%zu", held);
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Load and build (name, version) without the lock, then insert it unless
 * another thread did first or a drop happened since `gen`. */
static err_code load_entry(model_cache *c, db *d, const char *name, int version, unsigned long gen,
                           const model_handle **out, err *e)
{
    err_code rc = ERR_OK;
    struct entry *en = calloc(1, sizeof *en);
    if (!en) return err_set(e, ERR_NOMEM, NULL, "out of memory loading model \"%s\"", name);
    model_def_init(&en->def);
    if (!d && (rc = db_conns_get(c->conns, &d, e))) goto fail;
    if ((rc = store_version_load(d, name, version, &en->def, NULL, en->h.created_at, e))) goto fail;
    if (c->build) {
        err be;
        err_clear(&be);
        if (!(en->h.built = c->build(&en->def, &be))) {
            rc = be.code ? be.code : ERR_INTERNAL;
            err_set(e, rc, be.field, "%s", be.code ? be.message : "building the model failed");
            goto fail;
        }
    }
    snprintf(en->name, sizeof en->name, "%s", name);
    en->h.name = en->name;
    en->h.version = version;
    en->h.def = &en->def;
    en->refs = 1;

    pthread_mutex_lock(&c->mu);
    struct entry *other = find(c, name, version);
    if (other)
        acquire(c, other);
    else if (c->generation == gen)
        link_entry(c, en);
    pthread_mutex_unlock(&c->mu);
    if (other) {
        entry_free(c, en);
        en = other;
    }
    *out = &en->h;
    return ERR_OK;
fail:
    entry_free(c, en);
    return rc;
}

/* Version 0 of `name` as a number: from the memo while no write has ended
 * since it was stored, else from the database (*d: the connection used). */
static err_code resolve_latest(model_cache *c, const char *name, int *version, db **d, err *e)
{
    struct latest *slot = &c->latest[key_hash(name, 0) & (LATEST_SLOTS - 1)];
    unsigned long changes = store_version_changes();
    pthread_mutex_lock(&c->mu);
    if (slot->changes == changes && strcmp(slot->name, name) == 0) *version = slot->version;
    pthread_mutex_unlock(&c->mu);
    if (*version) return ERR_OK;
    err_code rc = db_conns_get(c->conns, d, e);
    if (rc || (rc = store_model_latest(*d, name, version, e))) return rc;
    pthread_mutex_lock(&c->mu);
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->version = *version;
    slot->changes = changes;
    pthread_mutex_unlock(&c->mu);
    return ERR_OK;
}

err_code model_cache_get(model_cache *c, const char *name, int version, const model_handle **out,
                         err *e)
{
    *out = NULL;
    err_code rc = model_name_check(name, e);
    if (rc) return rc;
    if (version < 0)
        return err_set(e, ERR_INVALID, "version", "must be a version number >= 1 (or latest)");
    db *d = NULL;
    unsigned long dels = store_version_deletions();
    struct entry *dead = NULL;
    pthread_mutex_lock(&c->mu);
    if (dels != c->deletions) { /* a deletion ended since: see DESIGN */
        c->deletions = dels;
        dead = unlink_matching(c, NULL, 0);
    }
    pthread_mutex_unlock(&c->mu);
    free_list(c, dead);
    if (version == 0 && (rc = resolve_latest(c, name, &version, &d, e))) return rc;
    pthread_mutex_lock(&c->mu);
    struct entry *en = find(c, name, version);
    if (en) acquire(c, en);
    if (en)
        c->hits++;
    else
        c->misses++;
    unsigned long gen = c->generation;
    pthread_mutex_unlock(&c->mu);
    if (en) {
        *out = &en->h;
        return ERR_OK;
    }
    return load_entry(c, d, name, version, gen, out, e);
}

void model_cache_counts(model_cache *c, unsigned long long *hits, unsigned long long *misses)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}

void model_cache_release(model_cache *c, const model_handle *h)
{
    if (!h) return;
    struct entry *en = entry_of(h), *dead = NULL;
    pthread_mutex_lock(&c->mu);
    if (--en->refs == 0) {
        if (en->linked) {
            lru_push(c, en);
            dead = evict(c);
        } else {
            dead = en;
            en->next = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    free_list(c, dead);
}

void model_cache_drop(model_cache *c, const char *name, int version)
{
    if (!name) return;
    pthread_mutex_lock(&c->mu);
    struct entry *dead = unlink_matching(c, name, version);
    pthread_mutex_unlock(&c->mu);
    free_list(c, dead);
}
