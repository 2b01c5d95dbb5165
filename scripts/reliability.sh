#!/usr/bin/env bash
# Long loops at their full counts, and one table of what they found. The suite runs seeded samples of the same
# loops (scripts/test.sh). Every row comes from a test's own record: each test prints
# `reliability-row: <id>|<what>|<count reached>|<violations found>` and fails on any violation.
#
#   scripts/reliability.sh
#   RESTORE_KILL_ROUNDS=100 BACKUP_KILL_ROUNDS=100 UPGRADE_KILL_ROUNDS=20 scripts/reliability.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-test-tools.sh >/dev/null
# shellcheck disable=SC1091
source .tools/env

restore_rounds=${RESTORE_KILL_ROUNDS:-60}
backup_rounds=${BACKUP_KILL_ROUNDS:-50}
upgrade_rounds=${UPGRADE_KILL_ROUNDS:-10}
seed=${OPERATOR_E2E_SEED:-$(date +%s)}
logs=$(mktemp -d)
failed=()

# A cargo test invocation whose output goes to $logs/<name>.log; its reliability rows are collected afterwards.
run() {
  local name=$1
  shift
  local started=$SECONDS
  if env "$@" -- --nocapture >"$logs/$name.log" 2>&1; then
    echo "$name: passed ($((SECONDS - started)) s)"
  else
    echo "$name: FAILED ($((SECONDS - started)) s, log $logs/$name.log)"
    failed+=("$name")
  fi
}

cargo build --tests --locked -q
run restore-kills RESTORE_KILL_ROUNDS="$restore_rounds" OPERATOR_E2E_SEED="$seed" \
  cargo test --locked -q --test operator_restore_crashes
run backup-kills BACKUP_KILL_ROUNDS="$backup_rounds" OPERATOR_E2E_SEED="$seed" \
  cargo test --locked -q --test operator_e2e_acceptance operator_killed_at_random_points
run upgrade-kills UPGRADE_KILL_ROUNDS="$upgrade_rounds" OPERATOR_E2E_SEED="$seed" \
  cargo test --locked -q --test operator_upgrade_crashes
run deposed-leader cargo test --locked -q --test operator_leader_election frozen
run spec-properties SPEC_PROPERTY_CASES="${SPEC_PROPERTY_CASES:-100000}" \
  cargo test --locked -q -p openbao-crds any_spec_gets_a_verdict
run lock-properties LOCK_PROPERTY_CASES="${LOCK_PROPERTY_CASES:-100000}" \
  cargo test --locked -q -p openbao-actors --test lock_properties
run corrupted-snapshots CORRUPT_SNAPSHOT_CASES="${CORRUPT_SNAPSHOT_CASES:-300}" \
  cargo test --locked -q --test executor_corrupted_snapshots
for suite in executor_store_faults executor_store_cleanup executor_openbao_faults; do
  if [[ -f "tests/$suite.rs" ]]; then run "$suite" cargo test --locked -q --test "$suite"; fi
done

echo
echo "seed $seed (replay with OPERATOR_E2E_SEED=$seed)"
echo
echo "| row | loop | count | violations |"
echo "|---|---|---|---|"
grep -ho 'reliability-row: .*' "$logs"/*.log | sed 's/^reliability-row: //' | sort |
  awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
if ((${#failed[@]})); then
  echo
  echo "failed: ${failed[*]} (logs in $logs)"
  exit 1
fi
