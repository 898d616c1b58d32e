#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer, in its own build folder so the normal build is left alone.
# Fails if any test fails or TSan reports a race. Every engine runs under it: the code's locks are pthread mutexes
# (the arena's growth lock, NSLock) or atomics (AtomicLock, the mutex engine's slot locks), which TSan sees — never Synchronization.Mutex, whose futex it does
# not see on Linux.
source "$(dirname "$0")/lib.sh"
cd "$HONGBAO_ROOT"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The exit status is swift test's own (captured before any filter: a status read after `| grep … || true` is
# always 0).
status=0
# The suppressions are the toolchain's false positives only, each with its reason (scripts/tsan-suppressions.txt);
# the processes the tests start (bench, hongbao) inherit them.
TSAN_OPTIONS="halt_on_error=1 suppressions=$HONGBAO_ROOT/scripts/tsan-suppressions.txt ${TSAN_OPTIONS:-}" \
  swift test --disable-xctest --sanitize=thread --scratch-path .build-tsan >"$out" 2>&1 || status=$?
grep -E '✘|WARNING: ThreadSanitizer|Test run with' "$out" || true
if grep -q 'WARNING: ThreadSanitizer' "$out"; then
  grep -m1 -A40 'WARNING: ThreadSanitizer' "$out" >&2   # the first report in full: which accesses, which threads
  fatal "ThreadSanitizer reported a race (above)"
fi
((status == 0)) || fatal "tests failed under ThreadSanitizer (exit $status)"
grep -qE 'Test run with [1-9][0-9]* tests?.* passed' "$out" || fatal "ThreadSanitizer run executed no test"
log "ThreadSanitizer: clean"
