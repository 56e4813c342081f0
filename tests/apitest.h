/* tests/apitest.h: shared pieces of the API tests (check_api, check_serve):
 * starting the daemon with the demo model, and matching a JSON reply
 * against an expected subset.
 *
 * Matching rules (apitest_match), used by the data-driven cases in
 * tests/api/ and the README examples:
 *   - an expected object matches an object holding at least its keys, each
 *     matching (extra keys in the reply are fine);
 *   - an expected array matches an array of the same length, item by item;
 *   - numbers match within a relative tolerance `tol` (0 = exactly);
 *   - the string "*" matches any value that is present;
 *   - anything else must be equal. */
#ifndef ODESERVE_TESTS_APITEST_H
#define ODESERVE_TESTS_APITEST_H

#include <jansson.h>
#include <stddef.h>

#include "testutil.h"

/* Start odeserved (tu_daemon_start) with the demo model seeded from
 * $top_srcdir/examples/spiral.json and `extra` arguments
 * (NULL-terminated, may be NULL). 0 or -1 (the log is printed). */
int apitest_start(tu_daemon *d, const char *const *extra);

/* SIGTERM and wait; the exit status (0 expected), or -1. The log is
 * printed when the status is not 0 (e.g. AddressSanitizer's report). */
int apitest_stop(tu_daemon *d);

/* 1 when `got` matches `want` (rules above); otherwise 0 and a one-line
 * reason naming the path ("y[3][1]: 0.5 != 0.25") in why. */
int apitest_match(const json_t *want, const json_t *got, double tol, char *why, size_t n);

/* Parse a reply body; NULL (with a message in why) when it is not JSON. */
json_t *apitest_json(const tu_response *r, char *why, size_t n);

#endif
