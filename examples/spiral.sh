#!/bin/sh
# examples/spiral.sh: the reference spiral demo (torchdiffeq's
# examples/ode_demo.py) as a training job on a running odeserved, with curl.
#
#   1. upload examples/spiral-data/spiral.csv as dataset "spiral-obs"
#      (dy/dt = (y^3) A, y0 = (2, 0), 1000 samples on [0, 25]; made by
#      examples/spiral-data/gen_spiral.py);
#   2. start a job: y -> y^3, Linear(2, 50) + tanh, Linear(50, 2), weights
#      N(0, 0.1^2), biases 0; l1 loss on 20 windows of 10 samples per
#      iteration; RMSprop lr 1e-3; dopri5 rtol 1e-7 atol 1e-9; 2000
#      iterations; seed 0; validation = the whole trajectory from y0 every
#      20 iterations (the job keeps the best);
#   3. print a progress line every 2 seconds until the job ends;
#   4. evaluate the stored version: its mean absolute error over the whole
#      1000-point trajectory from y0 (the job's best validation loss is
#      exactly that number; a trajectory request recomputes it).
#
# Usage: examples/spiral.sh [BASE_URL] [GRADIENT]
#   BASE_URL defaults to http://127.0.0.1:8080, GRADIENT to adjoint
#   (or backprop). Needs curl and awk. TOKEN, when set, is sent as an API
#   token (it needs the read, write and train scopes: README.md, "Running it
#   on a network").
set -eu
url=${1:-http://127.0.0.1:8080}
gradient=${2:-adjoint}
here=$(dirname "$0")
data="$here/spiral-data/spiral.csv"

api() { # curl, with the API token when there is one
    if [ -n "${TOKEN:-}" ]; then curl -H "Authorization: Bearer $TOKEN" "$@"; else curl "$@"; fi
}

field() { # field NAME JSON: a number or string value of a top-level key
    printf '%s' "$2" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

echo "uploading $data as dataset spiral-obs"
api -sS -o /dev/null -X DELETE "$url/v1/datasets/spiral-obs" || true
api -sS -f -X POST -H 'Content-Type: text/csv' --data-binary "@$data" \
    "$url/v1/datasets/spiral-obs"
echo

job=$(api -sS -f -X POST -H 'Content-Type: application/json' "$url/v1/jobs" -d '{
  "model": "spiral-trained",
  "init": {"kind": "ode", "state_dim": 2,
           "layers": [{"activation": "cube"},
                      {"out": 50, "activation": "tanh"},
                      {"out": 2, "activation": "identity"}],
           "scheme": {"name": "normal", "std": 0.1}},
  "dataset": "spiral-obs",
  "validation": {"every": 20, "holdout_fraction": 0},
  "objective": {"loss": "l1", "batch_size": 20, "batch_time": 10},
  "optimizer": {"name": "rmsprop", "lr": 0.001},
  "iterations": 2000, "gradient": "'"$gradient"'",
  "solver": {"method": "dopri5", "rtol": 1e-7, "atol": 1e-9}, "seed": 0}')
id=$(field id "$job")
echo "job $id queued ($url/v1/jobs/$id)"

while :; do
    sleep 2
    s=$(api -sS -f "$url/v1/jobs/$id")
    status=$(field status "$s")
    printf 'job %s %-9s iteration %5s/2000  loss %-10.5g best validation %-10.5g %6.1f it/s\n' \
        "$id" "$status" "$(field iteration "$s")" "$(field train_loss "$s" | sed 's/null/nan/')" \
        "$(field best_validation_loss "$s" | sed 's/null/nan/')" \
        "$(field iterations_per_second "$s" | sed 's/null/0/')"
    case $status in succeeded | failed | cancelled) break ;; esac
done
if [ "$status" != succeeded ]; then
    echo "job $id $status: $(field error "$s")" >&2
    exit 1
fi
version=$(field result_version "$s")
echo "stored as spiral-trained version $version"

# The trajectory from y0 at the 1000 sample times, against the data.
times=$(awk -F, 'NR > 1 { printf "%s%s", (NR > 2 ? "," : ""), $2 }' "$data")
api -sS -f -X POST -H 'Content-Type: application/json' \
    "$url/v1/models/spiral-trained/trajectory" \
    -d "{\"version\": $version, \"y0\": [2.0, 0.0], \"t\": [$times]}" |
    tr -d '[] ' | sed 's/.*"y"://; s/,"stats".*//' | tr ',' '\n' |
    awk -F, -v data="$data" '
        { pred[NR] = $1 }
        END {
            n = 0
            while ((getline line < data) > 0) {
                if (n++ == 0) continue
                split(line, f, ",")
                i = 2 * (n - 2)
                err += (f[3] > pred[i + 1] ? f[3] - pred[i + 1] : pred[i + 1] - f[3])
                err += (f[4] > pred[i + 2] ? f[4] - pred[i + 2] : pred[i + 2] - f[4])
            }
            printf "mean absolute error over the whole trajectory: %.4f (acceptance: <= 0.10)\n",
                err / (2 * (n - 1))
        }'
