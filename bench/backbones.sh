#!/usr/bin/env bash
# Training throughput (images/s) of thaw vs the same loop in PyTorch, one line per case:
#   resnet18 at 64x64 and efficientnet_lite0 at 224x224 (grayscale 28x28 u8 batches resized on
#   the device), and efficientnet_lite0 at 224x224 on RGB 64x64 u8 batches (a colour fine-tune);
#   every block trainable, SGD momentum 0.9, on the CPU (or DEVICE=cuda).
# Usage: bench/backbones.sh  (after `make build weights`; STEPS_SCALE=2 doubles the steps,
# REPEATS=n sets the interleaved repeats, best of each reported)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${THAW_PYTHON:-$HOME/.cache/thaw/torch-2.11.0/bin/python}
DEVICE=${DEVICE:-cpu}
SCALE=${STEPS_SCALE:-1}
export LIBTORCH_USE_PYTORCH=1 PATH="$(dirname "$PY"):$PATH"
cargo build --release --example backbone_bench --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/examples/backbone_bench
printf "%-20s %5s %5s %9s %12s %12s %8s\n" backbone size batch input thaw_img/s torch_img/s ratio
for case in "resnet18 64 32 $((8 * SCALE)) 1 28" "efficientnet_lite0 224 16 $((3 * SCALE)) 1 28" \
  "efficientnet_lite0 224 16 $((3 * SCALE)) 3 64"; do
  set -- $case
  # Interleaved repeats, best of each: on a shared machine other load only ever slows a run.
  thaw=0 torch=0
  for _ in $(seq "${REPEATS:-3}"); do
    t=$("$BIN" "$1" "$2" "$3" "$4" "$DEVICE" "$5" "$6")
    p=$(DEVICE=$DEVICE "$PY" scripts/backbones.py bench "$1" "$2" "$3" "$4" "$5" "$6" 2>/dev/null)
    thaw=$(awk -v a="$thaw" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
    torch=$(awk -v a="$torch" -v b="$p" 'BEGIN { print (b > a ? b : a) }')
  done
  ratio=$(awk -v a="$thaw" -v b="$torch" 'BEGIN { printf "%.2f", a / b }')
  printf "%-20s %5s %5s %9s %12s %12s %8s\n" "$1" "$2" "$3" "${5}x${6}x${6}" "$thaw" "$torch" "$ratio"
done
