/* tests/leakscan.h: does a client-visible message give away the server's
 * insides? A file path (a given one such as the database's, its directory,
 * an absolute path under a usual root, "/tmp", a ".db" file name) or SQL
 * text (SELECT, INSERT, UPDATE, DELETE FROM, PRAGMA, the word "sqlite").
 * URL paths of the API ("/v1/models") are not file paths and pass.
 * Pure functions; test code only. */
#ifndef ODESERVE_TESTS_LEAKSCAN_H
#define ODESERVE_TESTS_LEAKSCAN_H

#include <stddef.h>

/* 1 if `text` leaks, with what was found in why[n]; 0 otherwise. `path`
 * (may be NULL) is a file path that must not appear, nor its directory. */
int leak_find(const char *text, const char *path, char *why, size_t n);

#endif
