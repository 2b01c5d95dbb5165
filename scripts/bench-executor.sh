#!/usr/bin/env bash
# Benchmarks the snapshot executor against one real OpenBao node and one S3 server on loopback. Per snapshot size
# it runs every variant --runs times, interleaved (A B C A B C ...) after one warm-up: the snapshot floor (curl of
# the snapshot endpoint to /dev/null), the store floors (one signed curl PUT; `aws s3 cp` with the executor's
# part size and concurrency), the hand pipeline (`bao operator raft snapshot save` + `aws s3 cp`, the stock
# client) and ours (`executor backup`, release build, verification and manifest included) next to the CPU floor
# of its checks (SHA-256 of the size, twice), then the same for restore. It prints per variant min and median
# wall time, median CPU time (user + sys of the process tree), peak RSS and the spread (max / min wall), ratios
# of medians, and a closing table of which targets hold.
#
# Usage: scripts/bench-executor.sh [--runs N] [--tmpfs] [--baseline BINARY] [SIZE_MIB ...]
#                                                                        (defaults: --runs 5, sizes 256 1024)
#   --tmpfs     OpenBao's raft dir, the S3 server's data and the scratch files on a memory file system
#               (/dev/shm), so disk writeback is out of the figures. Default: the temp dir (disk).
#   --baseline  another build of openbao-operator (e.g. a copy of the last commit's release binary) whose
#               executor runs in every round next to this build's, to tell a change from noise.
# Env:   EXECUTOR_PART_SIZE, EXECUTOR_UPLOAD_CONCURRENCY are passed to the executor and the multipart floor;
#        CARGO_TARGET_DIR is honoured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=5
tmpfs=false
baseline=
sizes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs)
      runs=${2:?--runs takes a number}
      shift 2
      ;;
    --tmpfs)
      tmpfs=true
      shift
      ;;
    --baseline)
      baseline=${2:?--baseline takes a binary}
      shift 2
      ;;
    *)
      sizes+=("$1")
      shift
      ;;
  esac
done
if [ ${#sizes[@]} -eq 0 ]; then
  sizes=(256 1024)
fi
scripts/install-test-tools.sh >/dev/null
# shellcheck disable=SC1091
source .tools/env
AWSCLI_VERSION=1.46.3
if ! "$OPENBAO_TEST_VENV/bin/python" -m pip show awscli 2>/dev/null | grep -qx "Version: $AWSCLI_VERSION"; then
  "$OPENBAO_TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
fi
cargo build --release --locked --bin openbao-operator --example bench_executor
target_dir=${CARGO_TARGET_DIR:-target}
flags=(--runs "$runs")
if [ -n "$baseline" ]; then
  flags+=(--baseline "$(realpath "$baseline")")
fi
if [ "$tmpfs" = true ]; then
  [ -d /dev/shm ] && [ -w /dev/shm ] || { echo "--tmpfs needs a writable /dev/shm" >&2; exit 1; }
  shm=$(mktemp -d /dev/shm/bench-executor.XXXXXX)
  trap 'rm -rf "$shm"' EXIT
  export TMPDIR=$shm
  flags+=(--tmpfs)
fi
"$target_dir/release/examples/bench_executor" "${flags[@]}" "$target_dir/release/openbao-operator" "${sizes[@]}"
