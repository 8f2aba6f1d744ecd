#!/usr/bin/env bash
# `make bench`, part 3: what the evaluation caps save. Runs bench/eval/fashion20.yaml (20
# training images per class against full-size Fashion-MNIST splits) and the quickstart
# (experiments/quickstart.yaml) twice each: with the grid's evaluation settings (the default
# caps) and with `eval: {max_per_class: all, every: 1}` (every split whole at every epoch, as
# before the caps). Prints per configuration the time spent training and evaluating, the wall
# time of each run and the ratio, and checks that every trial's final metrics (always measured on
# the full splits) are the same either way. Trials have the same keys in both runs: the
# evaluation settings are not part of a trial's identity.
#
# Environment: THAW_BIN, BENCH_DEVICE, BENCH_DATA, PYTHON as in bench/run.sh; BENCH_OUT keeps
# the databases and logs (default: a temp folder).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" eval

run() { # $1 = grid, $2 = label (capped|full)
    local name db
    name=$(basename "$1" .yaml)
    db=$out/$name-$2.sqlite
    rm -rf "$db" "$db-wal" "$db-shm"
    local grid=$1
    if [[ $2 == full ]]; then
        grid=$out/$name-full.yaml
        # The same grid with every split evaluated whole at every epoch.
        awk '/^eval:/ {skip = 1; next} skip && /^[ \t]/ {next} {skip = 0; print}' "$1" >"$grid"
        echo "eval: {max_per_class: all, every: 1}" >>"$grid"
    fi
    local t0 t1
    t0=$(date +%s.%N)
    "$THAW_BIN" run "$grid" --db "$db" --cache-dir "$out/cache" --reports-dir "$out/reports-$2" \
        --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" >"$out/$name-$2.log" 2>&1 \
        || { tail -20 "$out/$name-$2.log" >&2; echo "bench: thaw failed ($out/$name-$2.log)" >&2; exit 2; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }' >"$out/$name-$2.wall"
}

echo "bench: evaluation caps ($THAW_BIN, --device $BENCH_DEVICE); logs and results in $out"
for grid in "$here/eval/fashion20.yaml" "$root/experiments/quickstart.yaml"; do
    # The source checkpoints are pretrained first and shared through the cache, so both timed
    # runs load them.
    "$THAW_BIN" prepare "$grid" --db "$out/prepare.sqlite" --cache-dir "$out/cache" \
        --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" >"$out/prepare.log" 2>&1 \
        || { tail -20 "$out/prepare.log" >&2; echo "bench: thaw prepare failed" >&2; exit 2; }
    run "$grid" capped
    run "$grid" full
done
"$PYTHON" "$here/eval_caps.py" --out "$out" fashion20 quickstart | tee "$out/eval-caps.txt"
