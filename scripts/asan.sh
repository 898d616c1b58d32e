#!/usr/bin/env bash
# Runs the tests of the packet arena — the core's unsafe memory — under AddressSanitizer, in its own build folder:
# the arena's own tests, the engine semantics on it, the contention races, and reclamation while grabs are in
# flight. Fails on any report or failure.
source "$(dirname "$0")/lib.sh"
cd "$HONGBAO_ROOT"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The exit status is swift test's own (captured before any filter: a status read after `| grep … || true` is
# always 0).
status=0
ASAN_OPTIONS="halt_on_error=1 detect_leaks=0 ${ASAN_OPTIONS:-}" \
  swift test --disable-xctest --sanitize=address --scratch-path .build-asan \
    --filter 'ArenaTests|ContentionTests|EngineSemanticsTests|ReclamationTests|DeadlineRaceTests|TicketInterleavingTests' >"$out" 2>&1 || status=$?
grep -E '✘|ERROR: AddressSanitizer|Test run with' "$out" || true
grep -q 'ERROR: AddressSanitizer' "$out" && fatal "AddressSanitizer reported an error (above)"
((status == 0)) || fatal "tests failed under AddressSanitizer (exit $status)"
grep -qE 'Test run with [1-9][0-9]* tests?.* passed' "$out" || fatal "AddressSanitizer run executed no test"
log "AddressSanitizer: clean"
