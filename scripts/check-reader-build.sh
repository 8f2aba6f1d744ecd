#!/usr/bin/env bash
# The reader build (`cargo build --no-default-features`: no libtorch) renders a sweep's report
# byte for byte as the full build does. Trains a small grid with the full build, renders its
# report with both builds (SOURCE_DATE_EPOCH fixes the "generated at" time), and compares the
# folders. First the reader passes clippy and its own unit tests. Usage: scripts/check-reader-build.sh FULL_THAW_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
full=$(realpath "${1:?usage: $0 FULL_THAW_BINARY}")
echo "building the reader (no libtorch) into target/reader: clippy, its unit tests, the binary"
reader_cargo() {
    env -u LIBTORCH -u LIBTORCH_USE_PYTORCH cargo "$1" --release --no-default-features \
        --target-dir target/reader "${@:2}"
}
reader_cargo clippy --all-targets -- -D warnings
reader_cargo test --lib
reader_cargo build
reader=target/reader/release/thaw
if ldd "$reader" | grep -q torch; then
    echo "FAIL: the reader build links libtorch" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/reader.yaml" <<'GRID'
name: reader
seeds: [0, 1]
source: {dataset: digits8x8, classes: [0, 1, 2], epochs: 1, train_per_class: 40}
target: {dataset: digits8x8, classes: [3, 4, 5], train_per_class: [5, 20], shift: [none, {rotate: 45}]}
backbone: cnn4
freeze: [0, all]
baselines: [scratch]
schedule: {kind: cosine, lr: 0.02, warmup_epochs: 1}
epochs: 3
batch_size: 8
image_size: 8
GRID
"$full" run "$tmp/reader.yaml" --device cpu --db "$tmp/thaw.sqlite" --reports-dir "$tmp/ignored" --data-dir data > "$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; exit 1; }
export SOURCE_DATE_EPOCH=1764460800
"$full" report reader --db "$tmp/thaw.sqlite" --reports-dir "$tmp/full" > /dev/null
"$reader" report reader --db "$tmp/thaw.sqlite" --reports-dir "$tmp/reader" > /dev/null
"$reader" query "SELECT COUNT(*) AS completed FROM trials WHERE status = 'completed'" --db "$tmp/thaw.sqlite"
"$reader" export reader --format ipynb --db "$tmp/thaw.sqlite" --out "$tmp/reader.ipynb" > /dev/null
"$reader" run "$tmp/reader.yaml" --dry-run --data-dir data | tail -1
# Index pages name the database path, the same for both.
if diff -r "$tmp/full" "$tmp/reader" > "$tmp/diff.txt"; then
    echo "OK: the reader build renders the report byte for byte as the full build ($(find "$tmp/full" -type f | wc -l) files)"
else
    head -40 "$tmp/diff.txt" >&2
    echo "FAIL: the reports differ" >&2
    exit 1
fi
