#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: install test tools, format check, clippy, all tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh
# shellcheck disable=SC1091
source .tools/env
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
