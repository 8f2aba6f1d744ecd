# Sourced by bench/search.sh and bench/eval_caps.sh: the repository root as the working folder,
# THAW_BIN, BENCH_DEVICE, BENCH_DATA and PYTHON with their defaults (as in bench/run.sh), and
# `out`, the results folder (BENCH_OUT, or a new temp folder named after $1).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
THAW_BIN=${THAW_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/thaw}
BENCH_DEVICE=${BENCH_DEVICE:-cpu}
BENCH_DATA=${BENCH_DATA:-$root/data}
PYTHON=${PYTHON:-python3}
out=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/thaw-$1.XXXXXX")}
mkdir -p "$out"
[[ -x $THAW_BIN ]] || { echo "bench: no thaw binary at $THAW_BIN (make build, or set THAW_BIN)" >&2; exit 2; }
