#!/usr/bin/env bash
# Long loops at their full counts, with a table of what ran. The suite runs seeded samples of the same loops
# (scripts/test.sh); this runs them longer. Every loop prints its seed, so a failure replays exactly.
#
#   scripts/reliability.sh                 # default counts
#   RESTORE_KILL_ROUNDS=100 scripts/reliability.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh >/dev/null
# shellcheck disable=SC1091
source .tools/env

restore_rounds=${RESTORE_KILL_ROUNDS:-60}
seed=${OPERATOR_E2E_SEED:-$(date +%s)}
logs=$(mktemp -d)
rows=()

# name | what | count | cargo test arguments (environment first)
run() {
  local name=$1 count=$2
  shift 2
  local started=$SECONDS result=passed
  if ! env "$@" >"$logs/$name.log" 2>&1; then result=FAILED; fi
  rows+=("| $name | $count | $seed | $result | $((SECONDS - started)) s |")
  echo "$name: $result ($((SECONDS - started)) s, log $logs/$name.log)"
}

cargo build --tests --locked -q
run restore-kills "$restore_rounds operator SIGKILLs during restores" \
  RESTORE_KILL_ROUNDS="$restore_rounds" OPERATOR_E2E_SEED="$seed" \
  cargo test --locked -q --test operator_restore_crashes
run backup-kills "10 operator SIGKILLs during backups" \
  OPERATOR_E2E_SEED="$seed" \
  cargo test --locked -q --test operator_e2e_acceptance operator_killed_at_random_points

echo
echo "| loop | count | seed | result | time |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if printf '%s\n' "${rows[@]}" | grep -q FAILED; then exit 1; fi
