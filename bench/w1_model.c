/* w1_model: prints workload W1's built-in model (bench_solve.c's
 * w1_model_def: 2 -> 64 -> 64 -> 2 tanh, "pytorch" initialisation from seed
 * 1 by model/init.h, dopri5 rtol 1e-6 atol 1e-8) as a model document
 * (docs/model-format.md), so that the anchor script bench/w1_torch.py reads
 * the very doubles bench_solve solves with (the generator is the project's,
 * not one Python has). `make bench` checks the copy: bench_solve on the
 * document (--model) must give the built-in run's NFE, steps and errors.
 *
 * Usage: bench/w1_model > w1.json (run from the build tree). */
#include "build_config.h"

#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "model/init.h"
#include "model/model_def.h"
#include "model/rng.h"

#include <stdio.h>
#include <stdlib.h>

#define W1_SEED 1 /* bench_solve.c's */

int main(void)
{
    model_def d;
    err e;
    err_clear(&e);
    model_def_init(&d);
    d.kind = MODEL_KIND_ODE;
    d.state_dim = 2;
    d.n_nets = 1;
    model_net *n = &d.nets[MODEL_NET_ODE_FIELD];
    n->in_dim = 2;
    n->n_layers = 3;
    n->layers[0] = (mlp_layer){MLP_LINEAR, 2, 64, ACT_TANH};
    n->layers[1] = (mlp_layer){MLP_LINEAR, 64, 64, ACT_TANH};
    n->layers[2] = (mlp_layer){MLP_LINEAR, 64, 2, ACT_IDENTITY};
    const struct init_config ic = {.scheme = INIT_PYTORCH};
    rng r;
    rng_seed(&r, W1_SEED);
    snprintf(d.solver.method, sizeof d.solver.method, "dopri5");
    d.solver.rtol = 1e-6;
    d.solver.atol = 1e-8;
    if (init_model_params(&d, &ic, &r, &e) || model_def_validate(&d, &e)) {
        fprintf(stderr, "w1_model: %s\n", e.message);
        model_def_free(&d);
        return 1;
    }
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(&d, &b);
    char *text = jbuf_take(&b, NULL);
    model_def_free(&d);
    if (!text) return 1;
    puts(text);
    free(text);
    return 0;
}
