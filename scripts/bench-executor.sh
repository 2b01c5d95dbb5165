#!/usr/bin/env bash
# Benchmarks the snapshot executor against one real OpenBao node and one S3 server on loopback, and prints, per
# snapshot size: the snapshot floor (curl of the snapshot endpoint to /dev/null), the store floor (one signed
# curl PUT), the hand pipeline (`bao operator raft snapshot save` + `aws s3 cp`, the stock client) and ours
# (`executor backup`, release build, verification and manifest included), then the same for restore; each with
# wall time and peak RSS (GNU time), and the ratios.
#
# Usage: scripts/bench-executor.sh [SIZE_MIB ...]     (default: 256 1024)
# Env:   EXECUTOR_PART_SIZE, EXECUTOR_UPLOAD_CONCURRENCY are passed to the executor; CARGO_TARGET_DIR is honoured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh >/dev/null
# shellcheck disable=SC1091
source .tools/env
AWSCLI_VERSION=1.46.3
if ! "$OPENBAO_TEST_VENV/bin/python" -m pip show awscli 2>/dev/null | grep -qx "Version: $AWSCLI_VERSION"; then
  "$OPENBAO_TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
fi
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
  sizes=(256 1024)
fi
cargo build --release --locked --bin openbao-operator --example bench_executor
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/release/examples/bench_executor" "$target_dir/release/openbao-operator" "${sizes[@]}"
