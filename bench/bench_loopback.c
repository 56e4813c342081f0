/* bench/bench_loopback.c: what this machine charges for a loopback TCP
 * round trip, with no HTTP and no daemon in it, so that the daemon's
 * one-connection figures (bench/http_overhead.sh) can be read against it.
 *
 * A client thread sends a 2 KB request (W1's is 1.9 KB) on one TCP
 * connection over 127.0.0.1 with TCP_NODELAY; a server thread reads it,
 * spins for SPIN microseconds (the solve: W1's takes about 33) and sends a
 * REPLY-byte answer (W1's is 6 KB, /healthz's a few hundred bytes); the
 * client reads it whole. Prints one JSON object per case, medians over
 * the round trips: "rtt_us" (minus the spin: "wire_us"), and "send_us",
 * the server's send() call alone. Each case runs with both threads on CPU 0
 * ("cpus": "same") and on CPUs 0 and 1 ("cpus": "different"). On a VM
 * whose idle CPUs halt, the different-CPU case pays for waking the other
 * CPU inside send(), and pays more after a longer spin (the waiting CPU
 * halted deeper): that is the part of a daemon's one-connection latency
 * that no daemon code can remove (docs/benchmarks.md, "One connection on a
 * VM").
 *
 * Usage: bench/bench_loopback [--rounds N (5000)] */
#include "bench_util.h" /* next to this file */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_BYTES 2000
#define MAX_REPLY 8192

struct pingpong {
    int listen_fd, cpu, rounds, reply, spin_us;
    double *send_s; /* the server's send() per round */
    int failed;
};

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

/* Read exactly n bytes; 0 on success. */
static int read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

static void *server(void *arg)
{
    struct pingpong *p = arg;
    pin(p->cpu);
    static char in[REQUEST_BYTES], out[MAX_REPLY];
    memset(out, 'x', sizeof out);
    int one = 1, fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) goto fail;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int i = 0; i < p->rounds; i++) {
        if (read_all(fd, in, sizeof in)) goto fail;
        double t0 = mono();
        while (mono() - t0 < 1e-6 * p->spin_us)
            ;
        double s = mono();
        if (send(fd, out, (size_t)p->reply, 0) != p->reply) goto fail;
        p->send_s[i] = mono() - s;
    }
    close(fd);
    return NULL;
fail:
    p->failed = 1;
    if (fd >= 0) close(fd);
    return NULL;
}

/* One case; 0 on success. */
static int run_case(int rounds, int reply, int spin_us, int server_cpu)
{
    struct pingpong p = {
        .listen_fd = -1, .cpu = server_cpu, .rounds = rounds, .reply = reply, .spin_us = spin_us};
    double *rtt = calloc((size_t)rounds, sizeof *rtt);
    p.send_s = calloc((size_t)rounds, sizeof *p.send_s);
    int fd = -1, one = 1, rc = -1, started = 0;
    pthread_t th;
    static char req[REQUEST_BYTES], in[MAX_REPLY];
    memset(req, 'q', sizeof req);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (!rtt || !p.send_s) goto fail;
    p.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (p.listen_fd < 0 || bind(p.listen_fd, (struct sockaddr *)&sa, sizeof sa) ||
        listen(p.listen_fd, 1) || getsockname(p.listen_fd, (struct sockaddr *)&sa, &len))
        goto fail;
    if (pthread_create(&th, NULL, server, &p)) goto fail;
    started = 1;
    pin(0);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) goto fail;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int i = 0; i < rounds; i++) {
        double t0 = mono();
        if (send(fd, req, sizeof req, 0) != (ssize_t)sizeof req || read_all(fd, in, (size_t)reply))
            goto fail;
        rtt[i] = mono() - t0;
    }
    close(fd);
    fd = -1;
    pthread_join(th, NULL);
    started = 0;
    if (p.failed) goto fail;
    double r = 1e6 * bench_median(rtt, rounds);
    printf("{\"bench\": \"loopback_pingpong\", \"cpus\": \"%s\", \"reply_bytes\": %d, "
           "\"spin_us\": %d, \"rtt_us\": %.1f, \"wire_us\": %.1f, \"send_us\": %.2f}\n",
           server_cpu == 0 ? "same" : "different", reply, spin_us, r, r - spin_us,
           1e6 * bench_median(p.send_s, rounds));
    rc = 0;
fail:
    if (fd >= 0) close(fd);
    if (started) {
        shutdown(p.listen_fd, SHUT_RDWR);
        pthread_join(th, NULL);
    }
    if (p.listen_fd >= 0) close(p.listen_fd);
    free(rtt);
    free(p.send_s);
    if (rc) fprintf(stderr, "bench_loopback: the case reply %d spin %d failed\n", reply, spin_us);
    return rc;
}

int main(int argc, char **argv)
{
    int rounds = 5000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_loopback [--rounds N]\n");
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    int cpus = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    static const int replies[] = {300, 6000}, spins[] = {0, 35};
    for (int c = 0; c < cpus; c++)
        for (size_t r = 0; r < sizeof replies / sizeof *replies; r++)
            for (size_t s = 0; s < sizeof spins / sizeof *spins; s++)
                if (run_case(rounds, replies[r], spins[s], c)) return 1;
    return 0;
}
