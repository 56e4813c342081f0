# examples: model documents. spiral.json is the demo model `make run` stores
# (written by bench/gen_w1_weights.py); installed under
# $(pkgdatadir)/examples for `seed_models`.
examplesdir = $(pkgdatadir)/examples
dist_examples_DATA = examples/spiral.json examples/cde-demo.json examples/sde-demo.json \
	examples/cnf-demo.json

# The training demo (README, docs/training-jobs.md): curl script and data.
EXTRA_DIST += examples/gen_sde_demo.py examples/gen_cnf_demo.py
EXTRA_DIST += examples/spiral.sh examples/spiral-data/gen_spiral.py \
	examples/spiral-data/spiral.csv

# The sde training acceptance test's data (tests/check_sde_train.c,
# docs/sde.md "Training"): an Ornstein-Uhlenbeck process by SciPy.
EXTRA_DIST += examples/ou_sde/gen.py examples/ou_sde/ou_train.json \
	examples/ou_sde/ou_test.json examples/ou_sde/truth.json

# hamiltonian models (docs/structured.md, README): the exact pendulum
# (separable) and a general tanh H network, written by gen.py. Each kind's
# examples install into their own folder: two of them are pendulum.json.
hamiltonianexamplesdir = $(examplesdir)/hamiltonian
dist_hamiltonianexamples_DATA = examples/hamiltonian/pendulum.json examples/hamiltonian/hnn.json
EXTRA_DIST += examples/hamiltonian/gen.py

# lagrangian models (docs/structured.md, README): a pendulum L, written by gen.py.
lagrangianexamplesdir = $(examplesdir)/lagrangian
dist_lagrangianexamples_DATA = examples/lagrangian/pendulum.json
EXTRA_DIST += examples/lagrangian/gen.py
# The HNN training acceptance test's data (tests/check_hnn_train.c,
# docs/structured.md "Training"): a noisy pendulum by SciPy.
EXTRA_DIST += examples/pendulum_hnn/gen.py examples/pendulum_hnn/pendulum.json
# The LNN training acceptance test's data (tests/check_lnn_dp.c,
# docs/structured.md "Training: lagrangian"): a noisy double pendulum and the
# exact motion from held-out states, by SciPy.
EXTRA_DIST += examples/dpendulum_lnn/gen.py examples/dpendulum_lnn/dpendulum.json \
	examples/dpendulum_lnn/truth.json
# hybrid models (docs/hybrid.md, README): Van der Pol (equations only) and a
# pendulum with a correction network.
hybridexamplesdir = $(examplesdir)/hybrid
dist_hybridexamples_DATA = examples/hybrid/vanderpol.json examples/hybrid/pendulum-ude.json
