#!/usr/bin/env bash
# Training throughput of thaw vs the same loop in PyTorch, one line per case, in examples/s
# (images for the image backbones, texts for minilm_l6):
#   resnet18 at 64x64 and efficientnet_lite0 at 224x224 (grayscale 28x28 u8 batches resized on
#   the device), and efficientnet_lite0 at 224x224 on RGB 64x64 u8 batches (a colour fine-tune);
#   minilm_l6 (all-MiniLM-L6-v2 weights) on batches of 16 texts of 64 random token ids each,
#   mean-pooled (PyTorch side: scripts/text_reference.py's BertModel);
#   every block trainable, new 10-class head, SGD momentum 0.9, on the CPU (or DEVICE=cuda),
#   libtorch's default thread count on both sides.
# Usage: bench/backbones.sh  (after `make build weights`; STEPS_SCALE=2 doubles the steps,
# REPEATS=n sets the interleaved repeats, best of each reported, CASES="resnet18 minilm" runs
# only the cases whose backbone name contains one of the words)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${THAW_PYTHON:-$HOME/.cache/thaw/torch-2.11.0/bin/python}
DEVICE=${DEVICE:-cpu}
SCALE=${STEPS_SCALE:-1}
export LIBTORCH_USE_PYTORCH=1 PATH="$(dirname "$PY"):$PATH"
cargo build --release --example backbone_bench --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/examples/backbone_bench
echo "(thaw/s and torch/s count images, or texts for the text backbone; size: image side or tokens)"
printf "%-20s %5s %5s %9s %12s %12s %8s\n" backbone size batch input thaw/s torch/s ratio
# backbone size batch steps channels side (channels and side: the u8 images; unused for text)
for case in "resnet18 64 32 $((8 * SCALE)) 1 28" "efficientnet_lite0 224 16 $((3 * SCALE)) 1 28" \
  "efficientnet_lite0 224 16 $((3 * SCALE)) 3 64" "minilm_l6 64 16 $((8 * SCALE)) 0 0"; do
  set -- $case
  if [ -n "${CASES:-}" ]; then
    keep=0
    for word in ${CASES//,/ }; do
      case "$1" in *"$word"*) keep=1 ;; esac
    done
    [ "$keep" = 1 ] || continue
  fi
  # Interleaved repeats, best of each: on a shared machine other load only ever slows a run.
  thaw=0 torch=0
  for _ in $(seq "${REPEATS:-3}"); do
    t=$("$BIN" "$1" "$2" "$3" "$4" "$DEVICE" "$5" "$6")
    p=$(DEVICE=$DEVICE "$PY" scripts/backbones.py bench "$1" "$2" "$3" "$4" "$5" "$6" 2>/dev/null)
    thaw=$(awk -v a="$thaw" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
    torch=$(awk -v a="$torch" -v b="$p" 'BEGIN { print (b > a ? b : a) }')
  done
  ratio=$(awk -v a="$thaw" -v b="$torch" 'BEGIN { printf "%.2f", a / b }')
  if [ "$5" = 0 ]; then
    size="L=$2" input=tokens
  else
    size=$2 input="${5}x${6}x${6}"
  fi
  printf "%-20s %5s %5s %9s %12s %12s %8s\n" "$1" "$size" "$3" "$input" "$thaw" "$torch" "$ratio"
done
