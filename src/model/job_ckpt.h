/* model/job_ckpt.h: a training job's checkpoint, as data: what a restarted
 * job resumes from (parameters, the best ones so far, the optimiser's state,
 * the RNG's state, and the progress they belong to).
 *
 * The store writes and reads it (store/jobs.h: store_job_checkpoint,
 * store_job_claim); jobs/ fills it while training. Ownership: the arrays
 * belong to whoever filled them; job_ckpt_free releases those the store
 * returns. Not shared between threads while being written. */
#ifndef ODESERVE_MODEL_JOB_CKPT_H
#define ODESERVE_MODEL_JOB_CKPT_H

#include <stddef.h>
#include <stdint.h>

typedef struct job_ckpt {
    long iteration; /* 0 = no checkpoint (fresh start) */
    double elapsed, train_loss, val_loss, best_train_loss, best_val_loss;
    size_t n_params;
    double *params, *best; /* n_params each */
    size_t optim_len;
    double *optim;
    long optim_steps;
    uint64_t rng[4];
} job_ckpt;

void job_ckpt_free(job_ckpt *c); /* frees the arrays, zeroes; NULL is a no-op */

#endif
