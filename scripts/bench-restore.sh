#!/usr/bin/env bash
# Restore overhead: creating an OpenBaoRestore to Completed on the Kubernetes API simulator, whose kubelet runs the
# real executor against a real OpenBao node and S3 server, printed next to the executor's own time (preflight dry
# run + restore, from their reports). The difference is what the operator adds. Figures, not pass/fail.
#
# Usage: scripts/bench-restore.sh [--runs N] [--mib SIZE]     (defaults: 5 runs, 64 MiB)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh >/dev/null
# shellcheck disable=SC1091
source .tools/env
exec cargo bench --locked -q --bench restore_overhead -- "$@"
