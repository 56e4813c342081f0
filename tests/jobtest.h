/* jobtest: the requests that tests of training jobs through a real odeserved
 * repeat: one daemon per test (jt_setup/jt_teardown, a Check fixture), JSON
 * requests that assert their status, uploads from the source tree, submitting
 * a job and waiting for it. Every function aborts the test (ck_abort) on a
 * failure, so callers need no error paths. Returned json_t are the caller's to
 * json_decref. Not thread-safe: one test process talks to one daemon. */
#ifndef ODESERVE_TESTS_JOBTEST_H
#define ODESERVE_TESTS_JOBTEST_H

#include <jansson.h>

#include "testutil.h"

extern tu_daemon jt_daemon;

void jt_setup(void);
void jt_teardown(void);

/* The reply's body as JSON, after asserting the status is want. */
json_t *jt_req_h(const char *method, const char *path, const char *const *headers,
                 const char *body, int want);
json_t *jt_req(const char *method, const char *path, const char *body, int want);
/* The reply's body text (malloc'd, the caller frees it) after asserting the status. */
char *jt_req_text(const char *method, const char *path, const char *body, int want);

/* POSTs the file at rel (relative to the source tree) to path; wants 201. */
void jt_upload(const char *path, const char *rel);
json_t *jt_source_json(const char *rel);

long long jt_submit(const char *body);
/* The job's document once it has succeeded; a failed or cancelled job, or no
 * end within timeout_s, aborts the test with the job's error. */
json_t *jt_wait_done(long long id, double timeout_s);
/* The version the succeeded job stored. */
int jt_wait_version(long long id, double timeout_s);

#endif
