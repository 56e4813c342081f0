/* store/conns.c: one connection per thread.
 *
 * DESIGN
 * SQLite connections opened with SQLITE_OPEN_NOMUTEX must not be used by two
 * threads at once. Rather than lock a shared connection, every thread gets
 * its own (SQLite's recommended model with WAL: readers proceed in parallel,
 * writers queue on the database lock with busy_timeout).
 *
 * The calling thread's connection hangs off a pthread key, so db_conns_get is
 * a pthread_getspecific and no lock after the first call. The set also
 * keeps every connection on a list under a mutex, so that db_conns_free can
 * close them all. When a thread exits, the key's destructor closes its
 * connection and takes it off the list: threads that come and go (a thread
 * per request, say) do not pile up open connections.
 *
 * Ownership: connections belong to the set; a thread borrows its own and
 * never closes it. db_conns_free must run after every thread that used the
 * conns has stopped using it (joined, or at least finished its last call);
 * after it, a thread's exit no longer touches the set (the key is deleted,
 * so its destructor no longer runs). */
#include "store/db.h"

#include "core/log.h"
#include "store/db_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    db_conns *conns;
    db *conn; /* owned */
    struct slot *prev, *next;
};

struct db_conns {
    pthread_key_t key;  /* -> the calling thread's struct slot */
    pthread_mutex_t mu; /* guards head and count */
    struct slot *head;  /* every open connection */
    size_t count;
    db_opts opts; /* path and synchronous point at the copies below */
    char *path;
    char *synchronous;
};

static void slot_unlink(db_conns *p, struct slot *s)
{
    pthread_mutex_lock(&p->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        p->head = s->next;
    if (s->next) s->next->prev = s->prev;
    p->count--;
    pthread_mutex_unlock(&p->mu);
}

/* pthread key destructor: the thread is exiting. */
static void slot_release(void *arg)
{
    struct slot *s = arg;
    slot_unlink(s->conns, s);
    db_close(s->conn);
    free(s);
}

err_code db_conns_new(db_conns **out, const db_opts *o, err *e)
{
    *out = NULL;
    err_code rc = db_opts_check(o, e);
    if (rc) return rc;
    db_conns *p = calloc(1, sizeof *p);
    if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory creating the connection set");
    p->opts = *o;
    p->path = strdup(o->path);
    p->synchronous = o->synchronous ? strdup(o->synchronous) : NULL;
    if (!p->path || (o->synchronous && !p->synchronous)) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory creating the connection set");
        goto fail;
    }
    p->opts.path = p->path;
    p->opts.synchronous = p->synchronous;
    if (pthread_key_create(&p->key, slot_release) != 0) {
        rc = err_set(e, ERR_NOMEM, NULL, "cannot create a thread key for the connection set");
        goto fail;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        pthread_key_delete(p->key);
        rc = err_set(e, ERR_NOMEM, NULL, "cannot create the connection set's mutex");
        goto fail;
    }
    *out = p;
    return ERR_OK;
fail:
    free(p->path);
    free(p->synchronous);
    free(p);
    return rc;
}

void db_conns_free(db_conns *p)
{
    if (!p) return;
    pthread_setspecific(p->key, NULL);
    pthread_key_delete(p->key);
    struct slot *s = p->head;
    while (s) {
        struct slot *next = s->next;
        db_close(s->conn);
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&p->mu);
    free(p->path);
    free(p->synchronous);
    free(p);
}

err_code db_conns_get(db_conns *p, db **out, err *e)
{
    struct slot *s = pthread_getspecific(p->key);
    if (s) {
        *out = s->conn;
        return ERR_OK;
    }
    *out = NULL;
    db *d = NULL;
    err_code rc = db_open(&d, &p->opts, e);
    if (rc) {
        /* any thread may ask, a request's too: the path goes to the log,
         * the message without it */
        if (e && strncmp(e->message, p->path, strlen(p->path)) == 0) {
            char q[ERR_MSG_MAX + 8];
            log_error("db_open_failed", "message=%s", log_quote(q, sizeof q, e->message));
            size_t n = strlen(p->path);
            if (e->message[n] == ':') n++;
            if (e->message[n] == ' ') n++;
            memmove(e->message, e->message + n, strlen(e->message + n) + 1);
        }
        return rc;
    }
    if (!(s = calloc(1, sizeof *s))) {
        db_close(d);
        return err_set(e, ERR_NOMEM, NULL, "out of memory in the connection set");
    }
    s->conns = p;
    s->conn = d;
    pthread_mutex_lock(&p->mu);
    s->next = p->head;
    if (p->head) p->head->prev = s;
    p->head = s;
    p->count++;
    pthread_mutex_unlock(&p->mu);
    if (pthread_setspecific(p->key, s) != 0) {
        slot_unlink(p, s);
        db_close(d);
        free(s);
        return err_set(e, ERR_NOMEM, NULL, "out of memory in the connection set");
    }
    *out = d;
    return ERR_OK;
}

size_t db_conns_size(db_conns *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}
