#!/usr/bin/env bash
# Operator scale benchmark: N OpenBaoClusters (default 1,000) due in the same minute, on the Kubernetes API
# simulator whose Job runner maps the executor image to a no-op program. Prints the operator's peak RSS, the delay
# from the scheduled window to each Job's creation (p50/p99/max), the Job count and the operator's idle CPU.
# Figures, not a pass/fail test. Takes about 4 minutes (90 s lead time before the window, 30 s idle sample).
#
# Usage: scripts/bench-operator.sh [CLUSTERS]     Env: RUST_LOG (operator log level, default info), CARGO_TARGET_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --locked --bin openbao-operator --example bench_operator
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/release/examples/bench_operator" "$target_dir/release/openbao-operator" "${1:-1000}" "$(type -P true)"
