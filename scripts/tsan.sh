#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer, in its own build folder so the normal build is left alone.
# Fails if any test fails or TSan reports a race. HONGBAO_TSAN=1 leaves the mutex engine out of the threaded
# contention tests: TSan cannot see Synchronization.Mutex's futex on Linux (see Tests/HongbaoCoreTests/ContentionTests.swift).
source "$(dirname "$0")/lib.sh"
cd "$HONGBAO_ROOT"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
HONGBAO_TSAN=1 TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" \
  swift test --disable-xctest --sanitize=thread --scratch-path .build-tsan 2>&1 | tee "$out" | grep -E '✘|WARNING: ThreadSanitizer|Test run with' || true
status=${PIPESTATUS[0]}
grep -q 'WARNING: ThreadSanitizer' "$out" && fatal "ThreadSanitizer reported a race (above)"
((status == 0)) || fatal "tests failed under ThreadSanitizer (exit $status)"
grep -qE 'Test run with [1-9][0-9]* tests?.* passed' "$out" || fatal "ThreadSanitizer run executed no test"
log "ThreadSanitizer: clean"
