/* tests/leakscan.c: see leakscan.h. */
#include "leakscan.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Roots an absolute file path starts with on the machines we run on. */
static const char *const roots[] = {"/tmp", "/var/", "/home/", "/usr/", "/etc/", "/proc/",
                                    "/dev/", "/run/", "/root/", "/work/", "/srv/", "/opt/"};

/* SQL words, matched as whole words in upper case (as the store writes them). */
static const char *const sql_words[] = {"SELECT", "INSERT", "UPDATE", "DELETE FROM", "PRAGMA",
                                        "BEGIN IMMEDIATE", "ROLLBACK", "CREATE TABLE", "WHERE"};

static int word_at(const char *text, const char *at, size_t len)
{
    int before = at == text || !isalnum((unsigned char)at[-1]);
    int after = !isalnum((unsigned char)at[len]) && at[len] != '_';
    return before && after;
}

static int has_word(const char *text, const char *w)
{
    size_t len = strlen(w);
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w))
        if (word_at(text, p, len)) return 1;
    return 0;
}

int leak_find(const char *text, const char *path, char *why, size_t n)
{
    if (path && path[0]) {
        if (strstr(text, path)) return snprintf(why, n, "the path %s", path), 1;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (strstr(text, dir)) return snprintf(why, n, "the directory %s", dir), 1;
        }
    }
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strstr(text, roots[i])) return snprintf(why, n, "a file path (%s)", roots[i]), 1;
    for (const char *p = strstr(text, ".db"); p; p = strstr(p + 1, ".db"))
        if (!isalnum((unsigned char)p[3]) && p[3] != '_')
            return snprintf(why, n, "a database file name (.db)"), 1;
    for (size_t i = 0; i < sizeof sql_words / sizeof sql_words[0]; i++)
        if (has_word(text, sql_words[i])) return snprintf(why, n, "SQL (%s)", sql_words[i]), 1;
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, "sqlite", 6) == 0) return snprintf(why, n, "the word sqlite"), 1;
    return 0;
}
