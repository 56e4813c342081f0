/* tests/faultio.c: a test-only LD_PRELOAD library that fails the daemon's
 * N-th write to its database files.
 *
 * It interposes pwrite, pwrite64, write, fsync and fdatasync. A call on a
 * descriptor whose file name contains $FAULTIO_MATCH (the database path:
 * the database, its -wal and -shm files) is counted while the control file
 * $FAULTIO_CONTROL holds a number N > 0; the N-th such call fails with
 * errno $FAULTIO_ERRNO (default EIO) and the file "$FAULTIO_CONTROL.fired"
 * is created. The control file is read on every counted call, so a test
 * arms and disarms the fault by rewriting it, with no signal to the daemon.
 * Test code only: nothing of the daemon knows it is there. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long armed_at = -1; /* the N the counter belongs to */
static long counted;

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

#define REAL(name)                                                                                 \
    do {                                                                                           \
        if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                        \
    } while (0)

/* The N in the control file, or 0. Uses the real read so as not to count. */
static long control_n(const char *control)
{
    int fd = open(control, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* 1 when this call on fd is the one to fail. */
static int should_fail(int fd, const char *call)
{
    const char *match = getenv("FAULTIO_MATCH"), *control = getenv("FAULTIO_CONTROL");
    if (!match || !control || fd < 0) return 0;
    char link[64], name[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, name, sizeof name - 1);
    if (k <= 0) return 0;
    name[k] = '\0';
    if (!strstr(name, match)) return 0;
    long n = control_n(control);
    pthread_mutex_lock(&mu);
    if (n != armed_at) { /* a new arming (or a disarming): count afresh */
        armed_at = n;
        counted = 0;
    }
    int fail = n > 0 && ++counted == n;
    pthread_mutex_unlock(&mu);
    if (!fail) return 0;
    char fired[PATH_MAX];
    snprintf(fired, sizeof fired, "%s.fired", control);
    int f = open(fired, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f >= 0) {
        REAL(write);
        if (real_write(f, call, strlen(call)) < 0) { /* the test then sees an empty name */
        }
        close(f);
    }
    const char *en = getenv("FAULTIO_ERRNO");
    errno = en ? atoi(en) : EIO;
    return 1;
}


ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (should_fail(fd, "pwrite")) return -1;
    REAL(pwrite);
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    if (should_fail(fd, "pwrite64")) return -1;
    REAL(pwrite64);
    return real_pwrite64(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (should_fail(fd, "write")) return -1;
    REAL(write);
    return real_write(fd, buf, n);
}

int fsync(int fd)
{
    if (should_fail(fd, "fsync")) return -1;
    REAL(fsync);
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    if (should_fail(fd, "fdatasync")) return -1;
    REAL(fdatasync);
    return real_fdatasync(fd);
}
