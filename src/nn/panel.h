/* nn/panel.h: z = W u + b for one state, by hand-written kernels, and the
 * packed copy of W ("panels") that the widest of them read.
 *
 * Internal to src/nn: the single-state path of nn/linear.h, and mlp_pack
 * (nn/mlp.h), which owns the panels (one allocation per mlp) and builds
 * them with panel_pack. W is out x in row-major (PyTorch's
 * nn.Linear.weight). Panels are, for in >= 8 and when the running code has
 * the AVX-512 or AVX2 kernels, blocks of eight rows each laid out [in][8]
 * (lane r of a vector = row r, so no horizontal sums); for in < 8, W
 * transposed, [in][out], on every CPU. With or without panels the result
 * is the same bit for bit (check_nn packed_bitwise); only the speed differs
 * (bench/bench_nn, bench/bench_cde; docs/nn.md).
 *
 * Stateless and thread-safe; nothing here allocates. */
#ifndef ODESERVE_NN_PANEL_H
#define ODESERVE_NN_PANEL_H

#include <stddef.h>

/* Doubles of panels for an out x in W on the running CPU; 0: none (the
 * kernels then read W itself). */
size_t panel_size(size_t out, size_t in);

/* P (panel_size(out, in) doubles, caller-owned) = the panels of W. */
void panel_pack(size_t out, size_t in, const double *W, double *P);

/* z = W u + b (b NULL: + 0) for one state. P: W's panels (panel_pack,
 * from the current W) or NULL. z may alias neither u nor b. */
void panel_matvec(size_t out, size_t in, const double *W, const double *P, const double *b,
                  const double *u, double *z);

/* panel_matvec for n states (u n x in, z n x out, row-major), the same
 * bits as n calls; with the AVX-512 panels, each block of rows serves
 * several states per load, so a small batch reads W once, not n times. */
void panel_matvec_n(size_t n, size_t out, size_t in, const double *W, const double *P,
                    const double *b, const double *u, double *z);

#endif
