#!/usr/bin/env bash
# The GPU measurements of the README in one go, for a machine with a GPU but no Rust toolchain:
# build the release binary elsewhere, copy it next to the tree (e.g. .devbin/thaw) and run
#
#   THAW_BIN=.devbin/thaw PYTHON=/opt/torch/.venv/bin/python \
#   LD_LIBRARY_PATH=/opt/torch/.venv/lib/python3.12/site-packages/torch/lib bash bench/gpu.sh
#
# It prints `thaw doctor`, then `make bench` on cuda (thaw with its default --jobs against the
# sequential PyTorch reference, fp32 and bf16, with and without frozen-feature reuse), then the
# quickstart's 32 trials one at a time and with the default --jobs. Everything it writes goes
# under $OUT (default: a temp folder).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
THAW_BIN=${THAW_BIN:?set THAW_BIN to the thaw binary}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/thaw-gpu.XXXXXX")}
mkdir -p "$out"

"$THAW_BIN" doctor
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv

echo "== bench on cuda"
THAW_BIN=$THAW_BIN BENCH_DEVICE=cuda BENCH_OUT="$out/bench" bash "$here/run.sh" || true

quickstart() { # $1 = label, rest = extra thaw run arguments
    local dir="$out/quickstart-$1"
    rm -rf "$dir" && mkdir -p "$dir"
    local t0 t1
    t0=$(date +%s.%N)
    "$THAW_BIN" run experiments/quickstart.yaml --db "$dir/thaw.sqlite" --cache-dir "$dir/cache" \
        --reports-dir "$dir/reports" --device cuda "${@:2}" >"$dir/log" 2>&1
    t1=$(date +%s.%N)
    grep -E "^(--jobs|sweep|bookkeeping|frozen-prefix)" "$dir/log" || true
    awk -v a="$t0" -v b="$t1" -v l="$1" 'BEGIN { printf "quickstart %s: %.1f s, %.0f trials/hour\n", l, b - a, 32 * 3600 / (b - a) }'
    "$THAW_BIN" query --db "$dir/thaw.sqlite" \
        "SELECT pretrained, freeze, ROUND(AVG(final_test_acc), 3) AS acc FROM trial_summary GROUP BY 1, 2"
}
echo "== quickstart, one trial at a time, then the default --jobs"
quickstart jobs1 --jobs 1
quickstart default
