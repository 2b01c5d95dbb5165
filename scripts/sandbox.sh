#!/usr/bin/env bash
# The local sandbox: the operator against the Kubernetes API simulator, OpenBao as a StatefulSet of 3 real `bao`
# Pods (JWT auth trusting the simulator's ServiceAccount tokens) and an S3 store, all on 127.0.0.1, with a sample
# OpenBaoCluster backed up every minute. Prints the kubectl commands to watch it (and to upgrade OpenBao); Ctrl-C
# stops everything.
#
# Usage: scripts/sandbox.sh [sandbox flags]   (e.g. --dir .sandbox --api-port 6443 --schedule '*/5 * * * *'
#                                              --openbao-version 2.6.2; see `--help`)
# State (kubeconfig, logs, server data) lives in ./.sandbox; KUBECONFIG=./.sandbox/kubeconfig.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh
# shellcheck disable=SC1091
source .tools/env
cargo build --locked -p openbao-operator --bin openbao-operator -p sandbox --bin sandbox
target_dir=${CARGO_TARGET_DIR:-target}
# exec: Ctrl-C and SIGTERM reach the sandbox itself, which stops every process it started.
exec "$target_dir/debug/sandbox" --operator-bin "$target_dir/debug/openbao-operator" "$@"
