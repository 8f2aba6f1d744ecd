#!/usr/bin/env bash
# `make bench`: run the benchmark grid with thaw, again with `--no-feature-reuse` (what reusing
# frozen blocks' outputs saves), then the same trials with the plain-PyTorch reference
# (bench/reference.py) on the same examples, and print the side-by-side comparison
# (bench/compare.py). Exit status 1 when the accuracies disagree beyond seed noise.
#
# Environment:
#   THAW_BIN       thaw binary            (default: $CARGO_TARGET_DIR or ./target, release/thaw)
#   BENCH_DEVICE   cpu | cuda | cuda:N    (default: cpu), for both sides
#   PYTHON         python with torch      (default: ~/.cache/thaw/torch-2.11.0/bin/python;
#                                          on the GPU machine /opt/torch/.venv/bin/python)
#   BENCH_THREADS  CPU threads for both sides (default: thaw's own default, from `thaw doctor`;
#                  when set, exported as OMP_NUM_THREADS/MKL_NUM_THREADS to both processes)
#   BENCH_GRID     grid file              (default: bench/grid.yaml)
#   BENCH_OUT      folder kept with the database, logs and results (default: a temp folder)
#   BENCH_BF16     1 = keep the grid's bf16 trials on a CPU without native bf16 (left out there
#                  by default: emulated bf16 takes about 15x as long as fp32)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"

THAW_BIN=${THAW_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/thaw}
BENCH_DEVICE=${BENCH_DEVICE:-cpu}
PYTHON=${PYTHON:-$HOME/.cache/thaw/torch-2.11.0/bin/python}
BENCH_GRID=${BENCH_GRID:-$here/grid.yaml}
BENCH_DATA=${BENCH_DATA:-$root/data}
out=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/thaw-bench.XXXXXX")}
mkdir -p "$out"

[[ -x $THAW_BIN ]] || { echo "bench: no thaw binary at $THAW_BIN (make build, or set THAW_BIN)" >&2; exit 2; }
[[ -x $PYTHON ]] || { echo "bench: no python at $PYTHON (set PYTHON)" >&2; exit 2; }
"$PYTHON" -c 'import torch' || { echo "bench: $PYTHON cannot import torch" >&2; exit 2; }

if [[ -n ${BENCH_THREADS:-} ]]; then
    export OMP_NUM_THREADS=$BENCH_THREADS MKL_NUM_THREADS=$BENCH_THREADS
    threads=$BENCH_THREADS
else
    threads=$("$THAW_BIN" doctor | awk '/^CPU threads/ {print $3}')
fi
case $BENCH_DEVICE in
    cuda) ref_device=cuda:0 ;;
    *) ref_device=$BENCH_DEVICE ;;
esac

# A CPU without a bf16 unit (no avx512_bf16 or amx_bf16 flag) emulates bf16, about 15x slower
# than fp32: the bench would take most of an hour there. Its bf16 trials are left out, and said.
if [[ $BENCH_DEVICE == cpu && ${BENCH_BF16:-0} != 1 ]] && grep -q '^precision:.*bf16' "$BENCH_GRID" \
    && ! grep '^flags' /proc/cpuinfo 2>/dev/null | grep -qwE 'avx512_bf16|amx_bf16'; then
    sed -E 's/^precision:.*/precision: fp32/' "$BENCH_GRID" >"$out/grid-fp32.yaml"
    BENCH_GRID=$out/grid-fp32.yaml
    echo "bench: this CPU has no bf16 unit (no avx512_bf16 or amx_bf16 flag): the bf16 trials are left out (BENCH_BF16=1 keeps them)"
fi

now() { date +%s.%N; }
sweep=$(awk '/^name:/ {print $2; exit}' "$BENCH_GRID")

db=$out/thaw.sqlite
rm -rf "$db" "$db-wal" "$db-shm" "$out/cache" "$out/reports"
echo "bench: thaw ($THAW_BIN, --device $BENCH_DEVICE, $threads threads) on $BENCH_GRID; logs and results in $out"
t0=$(now)
"$THAW_BIN" run "$BENCH_GRID" --db "$db" --cache-dir "$out/cache" --reports-dir "$out/reports" \
    --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" >"$out/thaw.log" 2>&1 \
    || { tail -20 "$out/thaw.log" >&2; echo "bench: thaw failed (log: $out/thaw.log)" >&2; exit 2; }
t1=$(now)
echo "bench: thaw again with --no-feature-reuse (frozen blocks recomputed every epoch)"
rm -rf "$out/no-reuse.sqlite"*
"$THAW_BIN" run "$BENCH_GRID" --db "$out/no-reuse.sqlite" --cache-dir "$out/cache" \
    --reports-dir "$out/reports-no-reuse" --data-dir "$BENCH_DATA" --device "$BENCH_DEVICE" \
    --no-feature-reuse >"$out/thaw-no-reuse.log" 2>&1 \
    || { tail -20 "$out/thaw-no-reuse.log" >&2; echo "bench: thaw --no-feature-reuse failed" >&2; exit 2; }
t1b=$(now)
echo "bench: reference ($PYTHON, device $ref_device) on the same trials"
"$PYTHON" "$here/reference.py" --db "$db" --sweep "$sweep" --data-dir "$BENCH_DATA" --cache-dir "$out/cache" \
    --device "$ref_device" --threads "$threads" --out "$out/reference.json" 2>"$out/reference.log" \
    || { tail -20 "$out/reference.log" >&2; echo "bench: reference failed (log: $out/reference.log)" >&2; exit 2; }
t2=$(now)
"$PYTHON" "$here/compare.py" --db "$db" --sweep "$sweep" --ref "$out/reference.json" \
    --db-no-reuse "$out/no-reuse.sqlite" --thaw-process "$(awk "BEGIN {print $t1 - $t0}")" --ref-process "$(awk "BEGIN {print $t2 - $t1b}")" \
    --json "$out/comparison.json" | tee "$out/comparison.txt"
