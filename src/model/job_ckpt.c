/* model/job_ckpt.c: see job_ckpt.h. */
#include "model/job_ckpt.h"

#include <stdlib.h>
#include <string.h>

void job_ckpt_free(job_ckpt *c)
{
    if (!c) return;
    free(c->params);
    free(c->best);
    free(c->optim);
    memset(c, 0, sizeof *c);
}
