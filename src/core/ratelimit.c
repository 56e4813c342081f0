/* core/ratelimit.c: see ratelimit.h. */
#include "core/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHARDS 16
#define SLOTS 256 /* hash chains per shard */

typedef struct bucket {
    unsigned char key[RATELIMIT_KEY_MAX];
    unsigned char len;
    double tokens, at; /* tokens as of `at` */
    struct bucket *next;
} bucket;

typedef struct shard {
    pthread_mutex_t mu;
    bucket *slot[SLOTS];
    size_t n;          /* buckets in the chains */
    bucket overflow;   /* shared by new keys while the shard is full */
    int overflow_used; /* overflow holds a live bucket */
} shard;

struct ratelimit {
    uint64_t seed;
    size_t per_shard; /* most buckets per shard */
    shard shards[SHARDS];
};

/* FNV-1a over the seed and the key, then a final mix (splitmix64), so the
 * low bits that pick shard and slot depend on every byte. */
static uint64_t hash(uint64_t seed, const unsigned char *k, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

err_code ratelimit_new(ratelimit **out, size_t max_keys, err *e)
{
    *out = NULL;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return err_set(e, ERR_NOMEM, NULL, "rate limit: out of memory");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rl->seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16) ^
               (uint64_t)(uintptr_t)rl;
    rl->per_shard = max_keys < SHARDS ? 1 : max_keys / SHARDS;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&rl->shards[i].mu, NULL);
    *out = rl;
    return ERR_OK;
}

/* The bucket's tokens at `now`. */
static double level(const bucket *b, double rate, double burst, double now)
{
    double t = b->tokens + (now > b->at ? now - b->at : 0) * rate;
    return t < burst ? t : burst;
}

/* Drop every bucket of the shard that has refilled: it says nothing a new
 * bucket would not. */
static void sweep(shard *s, double rate, double burst, double now)
{
    for (int i = 0; i < SLOTS; i++) {
        bucket **p = &s->slot[i];
        while (*p) {
            bucket *b = *p;
            if (level(b, rate, burst, now) >= burst) {
                *p = b->next;
                free(b);
                s->n--;
            } else {
                p = &b->next;
            }
        }
    }
}

static double take(bucket *b, double rate, double burst, double now)
{
    double t = level(b, rate, burst, now);
    b->at = now;
    if (t >= 1) {
        b->tokens = t - 1;
        return 0;
    }
    b->tokens = t;
    return (1 - t) / rate;
}

double ratelimit_take(ratelimit *rl, const void *key, size_t len, double rate, double burst,
                      double now)
{
    if (len > RATELIMIT_KEY_MAX) len = RATELIMIT_KEY_MAX;
    uint64_t h = hash(rl->seed, key, len);
    shard *s = &rl->shards[h % SHARDS];
    size_t slot = (size_t)(h / SHARDS) % SLOTS;
    double wait;
    pthread_mutex_lock(&s->mu);
    for (bucket *b = s->slot[slot]; b; b = b->next) {
        if (b->len == len && memcmp(b->key, key, len) == 0) {
            wait = take(b, rate, burst, now);
            goto out;
        }
    }
    if (s->n >= rl->per_shard) sweep(s, rate, burst, now);
    if (s->overflow_used && level(&s->overflow, rate, burst, now) >= burst) s->overflow_used = 0;
    bucket *b = s->n < rl->per_shard ? malloc(sizeof *b) : NULL;
    if (!b) { /* full of active clients (or out of memory): the shared bucket */
        if (!s->overflow_used) {
            s->overflow.tokens = burst;
            s->overflow.at = now;
            s->overflow_used = 1;
        }
        wait = take(&s->overflow, rate, burst, now);
        goto out;
    }
    memcpy(b->key, key, len);
    b->len = (unsigned char)len;
    b->tokens = burst;
    b->at = now;
    b->next = s->slot[slot];
    s->slot[slot] = b;
    s->n++;
    wait = take(b, rate, burst, now);
out:
    pthread_mutex_unlock(&s->mu);
    return wait;
}

size_t ratelimit_size(ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &rl->shards[i];
        pthread_mutex_lock(&s->mu);
        n += s->n + (size_t)s->overflow_used;
        pthread_mutex_unlock(&s->mu);
    }
    return n;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &rl->shards[i];
        for (int j = 0; j < SLOTS; j++) {
            for (bucket *b = s->slot[j], *next; b; b = next) {
                next = b->next;
                free(b);
            }
        }
        pthread_mutex_destroy(&s->mu);
    }
    free(rl);
}
