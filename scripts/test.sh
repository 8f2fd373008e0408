#!/usr/bin/env bash
# The pytest part of `make test`, in three phases so the 2-core CI machine finishes in minutes:
#   1. the quick tests, spread over 4 xdist workers (they mostly wait on the databases);
#   2. the real-process suites (marker `slow`), 3 workers, an idle worker steals queued tests;
#   3. the tests that stop a shared service or time a reply load delays (marker `exclusive`), alone.
# Every phase runs even when an earlier one failed; the exit status is the first failure's.
# Extra arguments go to every phase (e.g. `bash scripts/test.sh -x`).
set -u
cd "$(dirname "$0")/.."
PYTEST=.venv/bin/pytest
status=0
run() {
  echo "== pytest $*"
  "$PYTEST" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && [ "$status" -eq 0 ]; then status=$rc; fi
}
run -n "${TEST_WORKERS:-4}" --dist loadgroup -m "not slow and not exclusive" "$@"
run -n "${SLOW_WORKERS:-3}" --dist worksteal -m "slow and not exclusive" "$@"
run -m exclusive "$@"
exit "$status"
