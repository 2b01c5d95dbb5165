#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: install test tools, format check, clippy, all tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh
# shellcheck disable=SC1091
source .tools/env
# Incremental caches roughly double the build directory; a one-shot run gains nothing from them.
if [[ "${CI:-}" == "true" ]]; then export CARGO_INCREMENTAL=0; fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
