#!/usr/bin/env bash
# The GPU measurements of the README in one go, for a machine with a GPU but no Rust toolchain:
# build the release binary elsewhere, copy it next to the tree (e.g. .devbin/thaw) and run
#
#   THAW_BIN=.devbin/thaw PYTHON=/opt/torch/.venv/bin/python \
#   LD_LIBRARY_PATH=/opt/torch/.venv/lib/python3.12/site-packages/torch/lib bash bench/gpu.sh
#
# It prints `thaw doctor`, then `make bench` on cuda (thaw with its default --jobs against the
# sequential PyTorch reference, fp32 and bf16, with and without frozen-feature reuse), the search
# benchmark (bench/search.sh) and the evaluation caps benchmark (bench/eval_caps.sh), then the
# quickstart's 32 trials one at a time and with the default --jobs. Everything it writes goes
# under $OUT (default: a temp folder). DEVICE (default cuda), BENCH_GRID and QUICKSTART (grid
# files) can be changed, e.g. to try the script on a CPU with small grids first.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
THAW_BIN=${THAW_BIN:?set THAW_BIN to the thaw binary}
DEVICE=${DEVICE:-cuda}
QUICKSTART=${QUICKSTART:-experiments/quickstart.yaml}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/thaw-gpu.XXXXXX")}
mkdir -p "$out"

"$THAW_BIN" doctor
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv || true

echo "== bench on $DEVICE"
THAW_BIN=$THAW_BIN BENCH_DEVICE=$DEVICE BENCH_OUT="$out/bench" bash "$here/run.sh" || true

echo "== search methods on $DEVICE (grid, random, ASHA over one space)"
THAW_BIN=$THAW_BIN BENCH_DEVICE=$DEVICE BENCH_OUT="$out/search" bash "$here/search.sh" || true

echo "== evaluation caps on $DEVICE (a 20-per-class trial on full splits, and the quickstart)"
THAW_BIN=$THAW_BIN BENCH_DEVICE=$DEVICE BENCH_OUT="$out/eval" bash "$here/eval_caps.sh" || true

quickstart() { # $1 = label, rest = extra thaw run arguments
    local dir="$out/quickstart-$1"
    rm -rf "$dir" && mkdir -p "$dir"
    local t0 t1
    t0=$(date +%s.%N)
    "$THAW_BIN" run "$QUICKSTART" --db "$dir/thaw.sqlite" --cache-dir "$dir/cache" \
        --reports-dir "$dir/reports" --device "$DEVICE" "${@:2}" >"$dir/log" 2>&1
    t1=$(date +%s.%N)
    grep -E "^(--jobs|sweep|bookkeeping|frozen-prefix)" "$dir/log" || true
    local n
    n=$("$THAW_BIN" query --db "$dir/thaw.sqlite" --format csv \
        "SELECT COUNT(*) FROM trials WHERE status = 'completed'" | tail -1)
    awk -v a="$t0" -v b="$t1" -v l="$1" -v n="$n" \
        'BEGIN { printf "quickstart %s: %d trials in %.1f s, %.0f trials/hour\n", l, n, b - a, n * 3600 / (b - a) }'
    "$THAW_BIN" query --db "$dir/thaw.sqlite" \
        "SELECT pretrained, freeze, ROUND(AVG(final_test_acc), 3) AS acc FROM trial_summary GROUP BY 1, 2"
}
echo "== quickstart, one trial at a time, then the default --jobs"
quickstart jobs1 --jobs 1
quickstart default
