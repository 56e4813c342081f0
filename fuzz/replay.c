/* fuzz/replay.c: every fuzz target over its committed inputs, in the
 * ordinary build (make check; under valgrind and ASan/UBSan in CI): the
 * seed corpus (fuzz/corpus/<target>/) and every input that once broke a
 * target (fuzz/regress/<target>/), so a fixed crash stays fixed without
 * clang. Exit 0 when every input ran; a broken property aborts. */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <string.h>

#include "core/log.h"

typedef int (*target_fn)(const uint8_t *, size_t);

static const struct {
    const char *name;
    target_fn fn;
} targets[] = {
    {"parse", fuzz_parse},     {"number", fuzz_number}, {"model", fuzz_model},
    {"request", fuzz_request}, {"dataset", fuzz_dataset}, {"job", fuzz_job},
    {"router", fuzz_router},   {"packed", fuzz_packed}, {"points", fuzz_points},
};

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *p = malloc(cap);
    size_t got;
    while (p && (got = fread(p + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *q = realloc(p, cap *= 2);
            if (!q) free(p);
            p = q;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

/* Run fn over every file of dir; the count, or -1 when a file is unreadable. */
static long run_dir(const char *dir, target_fn fn)
{
    DIR *d = opendir(dir);
    if (!d) return 0; /* a target may have no regressions yet */
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        unsigned char *data = read_all(path, &len);
        if (!data) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            closedir(d);
            return -1;
        }
        fn(data, len);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    const char *src = getenv("top_srcdir");
    if (!src) src = ".";
    log_level_set(LOG_LVL_ERROR);
    int bad = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src, targets[i].name);
        long seeds = run_dir(dir, targets[i].fn);
        snprintf(dir, sizeof dir, "%s/fuzz/regress/%s", src, targets[i].name);
        long regress = run_dir(dir, targets[i].fn);
        printf("replay %-8s %ld seeds, %ld regressions\n", targets[i].name, seeds, regress);
        if (seeds <= 0 || regress < 0) bad = 1; /* an empty corpus tests nothing */
    }
    return bad;
}
