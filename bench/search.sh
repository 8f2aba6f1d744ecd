#!/usr/bin/env bash
# `make bench`, part 2: what search buys. The same space of 48 configurations (bench/search/)
# run three ways on the bundled data, 3 seeds each: the full grid, random search over 16
# sampled configurations, and the grid under ASHA early stopping; then bench/search_curves.py
# prints each method's best-so-far test accuracy (configuration chosen by validation accuracy)
# against the trial-epochs spent, and whether random search and ASHA reach the grid's best
# within one standard error at no more than a third of its trial-epochs.
#
# Environment: THAW_BIN, BENCH_DEVICE, BENCH_DATA, PYTHON as in bench/run.sh; BENCH_OUT keeps
# the database and logs (default: a temp folder).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" search

db=$out/search.sqlite
rm -rf "$db" "$db-wal" "$db-shm" "$out/reports-search"
echo "bench: search methods ($THAW_BIN, --device $BENCH_DEVICE); logs and results in $out"
# The source checkpoints first, so that no timed run pays for them.
"$THAW_BIN" prepare "$here/search/grid.yaml" --db "$out/prepare.sqlite" --cache-dir "$out/cache" \
    --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" >"$out/prepare.log" 2>&1 \
    || { tail -20 "$out/prepare.log" >&2; echo "bench: thaw prepare failed" >&2; exit 2; }
for method in grid random asha; do
    t0=$(date +%s.%N)
    "$THAW_BIN" run "$here/search/$method.yaml" --db "$db" --cache-dir "$out/cache" \
        --reports-dir "$out/reports-search" --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" \
        >"$out/$method.log" 2>&1 \
        || { tail -20 "$out/$method.log" >&2; echo "bench: thaw failed on $method (log: $out/$method.log)" >&2; exit 2; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v m="$method" 'BEGIN { printf "bench: %s took %.1f s (process wall time)\n", m, b - a }'
done
"$PYTHON" "$here/search_curves.py" --db "$db" --grid search-grid --method random=search-random \
    --method asha=search-asha --csv "$out/curves.csv" | tee "$out/search.txt"
