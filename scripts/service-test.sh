#!/usr/bin/env bash
# The example service end to end: builds Examples/HongbaoService, runs its tests (the API and hostile input through
# the router), then starts real services — one in process, two sharing the test Redis — drives each with a short
# `bench-http` and checks its verdict. Every service it starts is stopped by PID. Needs HONGBAO_REDIS_URL for the
# shared run (skipped, with a note, without it).
source "$(dirname "$0")/lib.sh"
service_dir="$HONGBAO_ROOT/Examples/HongbaoService"
cd "$service_dir"

log "example service: swift build --build-tests && swift test"
swift build --build-tests
swift test --disable-xctest
bin=$(swift build --show-bin-path)

pids=()
work=$(mktemp -d /tmp/hongbao-service.XXXXXX)
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT

# The services check HS256 bearer tokens signed with this secret, and bench-http signs its callers' with it; a
# service started with --insecure-dev runs without (and without the variable, which it would refuse beside it).
export HONGBAO_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

# start_service PORT [ARGS…]: starts hongbao-service on 127.0.0.1:PORT and waits until GET /health answers.
start_service() {
  local port=$1; shift
  if [[ " $* " == *" --insecure-dev "* ]]; then
    env -u HONGBAO_JWT_SECRET "$bin/hongbao-service" --port "$port" "$@" >"$work/service-$port.log" 2>&1 &
  else
    "$bin/hongbao-service" --port "$port" "$@" >"$work/service-$port.log" 2>&1 &
  fi
  pids+=("$!")
  local i
  for i in $(seq 100); do
    curl -sf --max-time 2 "http://127.0.0.1:$port/health" | grep -q '"status":"ok"' && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fatal "hongbao-service on port $port exited: $(tail -3 "$work/service-$port.log")"
    sleep 0.1
  done
  fatal "hongbao-service on port $port did not answer within 10 s"
}

# bench_http URLS NAME: a short closed-loop run; bench-http exits 2 on a failed verdict.
bench_http() {
  log "bench-http against $2"
  "$bin/bench-http" --http "$1" --members 20000 --packets 400 --threads 2 --connections 8 --seed 11 \
    --db "$work/http.db" --quiet || fatal "bench-http against $2 failed (exit $?)"
  local verdict
  verdict=$(sqlite3 "$work/http.db" "SELECT verdict || ' ' || complete FROM runs ORDER BY id DESC LIMIT 1")
  [[ $verdict == "pass 1" ]] || fatal "bench-http against $2: verdict '$verdict'"
  log "bench-http against $2: pass"
}

port=$(free_port 18080)
start_service "$port"
bench_http "http://127.0.0.1:$port" "one in-process service (bearer tokens: each caller's own)"

# Without a valid token nothing is done: 401 with a JSON error; a member naming another member is a 403.
log "tokens: a missing or forged token is a 401, a grab for another member a 403"
status=$(curl -s -o "$work/401.json" -w '%{http_code}' -X POST -d '{"total_fen":100,"shares":1,"members":[1]}' "http://127.0.0.1:$port/packets")
[[ $status == 401 ]] && grep -q '"error"' "$work/401.json" || fatal "a send without a token answered $status: $(cat "$work/401.json")"
forged=$(HONGBAO_JWT_SECRET=$(printf 'x%.0s' {1..40}) python3 "$HONGBAO_ROOT/scripts/sign-token.py" 1)
status=$(curl -s -o "$work/401.json" -w '%{http_code}' -H "Authorization: Bearer $forged" -X POST \
  -d '{"total_fen":100,"shares":1,"members":[1]}' "http://127.0.0.1:$port/packets")
[[ $status == 401 ]] || fatal "a send with a token signed by another secret answered $status: $(cat "$work/401.json")"
alice=$(python3 "$HONGBAO_ROOT/scripts/sign-token.py" 1)
id=$(curl -sf -H "Authorization: Bearer $alice" -X POST -d '{"total_fen":100,"shares":1,"members":[1,2]}' "http://127.0.0.1:$port/packets" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fatal "a send with a valid token failed"
status=$(curl -s -o "$work/403.json" -w '%{http_code}' -H "Authorization: Bearer $alice" -X POST -d '{"member":2}' "http://127.0.0.1:$port/packets/$id/grab")
[[ $status == 403 ]] || fatal "member 1 grabbing for member 2 answered $status: $(cat "$work/403.json")"
log "tokens: 401 and 403 as specified"

# No secret and no --insecure-dev: the service refuses to start, with one line.
if env -u HONGBAO_JWT_SECRET "$bin/hongbao-service" --port "$(free_port $((port + 30)))" >"$work/nosecret.txt" 2>&1; then
  fatal "hongbao-service started without HONGBAO_JWT_SECRET or --insecure-dev"
fi
grep -q "HONGBAO_JWT_SECRET" "$work/nosecret.txt" || fatal "no secret: $(cat "$work/nosecret.txt")"

# schemathesis: property-based requests from openapi.yaml, every check and every phase (schemathesis.toml beside
# the spec), with an operator's token (every call allowed); the spec and the server must agree on every answer.
schemathesis_run() {
  local token
  token=$(python3 "$HONGBAO_ROOT/scripts/sign-token.py" 1 --operator)
  log "schemathesis against $2"
  python3 -m schemathesis.cli run openapi.yaml --url "$1" --checks all -H "Authorization: Bearer $token" \
    --max-examples 60 --seed 11 >"$work/schemathesis.txt" 2>&1 \
    || fatal "schemathesis against $2: $(grep -A12 -E '^- ST|^Failures' "$work/schemathesis.txt" | head -40)"
  log "schemathesis against $2: $(grep -E 'generated' "$work/schemathesis.txt" | xargs)"
}
schemathesis_run "http://127.0.0.1:$port" "the in-process service"

# Slow clients: 200 connections that send half a request and then nothing are closed after --idle-timeout, and the
# service still answers.
slow=$(free_port $((port + 20)))
start_service "$slow" --idle-timeout 1 --insecure-dev
log "slow clients: 200 half-sent requests against --idle-timeout 1"
python3 - "$slow" <<'PY' || fatal "half-sent requests were not closed by --idle-timeout"
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /packets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"total_fen\"")
    held.append(s)
deadline = time.time() + 10
open_ = list(held)
while open_ and time.time() < deadline:
    still = []
    for s in open_:
        s.settimeout(0.05)
        try:
            if s.recv(4096) == b"":
                continue   # closed by the service
            still.append(s)  # an answer (e.g. 408): keep reading until it closes
        except socket.timeout:
            still.append(s)
        except ConnectionResetError:
            continue
    open_ = still
print(f"{200 - len(open_)} of 200 half-sent requests closed by the service")
sys.exit(1 if open_ else 0)
PY
curl -sf --max-time 2 "http://127.0.0.1:$slow/health" >/dev/null || fatal "the service stopped answering after slow clients"

if [[ -n ${HONGBAO_REDIS_URL:-} ]]; then
  first=$(free_port $((port + 1)))
  start_service "$first" --redis "$HONGBAO_REDIS_URL"
  second=$(free_port $((first + 1)))
  start_service "$second" --redis "$HONGBAO_REDIS_URL"
  wrk_service=$(free_port $((second + 1)))
  start_service "$wrk_service" --redis "$HONGBAO_REDIS_URL" --insecure-dev
  bench_http "http://127.0.0.1:$first,http://127.0.0.1:$second" "two services sharing Redis"
  schemathesis_run "http://127.0.0.1:$first" "a Redis-backed service"
  # A send retried with its Idempotency-Key at another process sharing the Redis: the same packet, a replay.
  log "keyed sends: a retry at another service process gets the packet the first made"
  sender=$(python3 "$HONGBAO_ROOT/scripts/sign-token.py" 5)
  key="retry-$RANDOM$RANDOM"
  body='{"total_fen":500,"shares":5,"members":[1,2,3,4,5,6]}'
  made=$(curl -sf -H "Authorization: Bearer $sender" -H "Idempotency-Key: $key" -X POST -d "$body" "http://127.0.0.1:$first/packets") \
    || fatal "a keyed send failed"
  again=$(curl -sf -D "$work/replay-headers.txt" -H "Authorization: Bearer $sender" -H "Idempotency-Key: $key" -X POST -d "$body" \
    "http://127.0.0.1:$second/packets") || fatal "a keyed send retried at the second service failed"
  [[ $made == "$again" ]] && grep -qi '^idempotent-replayed: true' "$work/replay-headers.txt" \
    || fatal "a keyed send retried at the second service made $again (the first made $made)"
  status=$(curl -s -o "$work/422.json" -w '%{http_code}' -H "Authorization: Bearer $sender" -H "Idempotency-Key: $key" -X POST \
    -d '{"total_fen":900,"shares":5,"members":[1,2,3,4,5,6]}' "http://127.0.0.1:$second/packets")
  [[ $status == 422 ]] || fatal "the key with another body answered $status: $(cat "$work/422.json")"
  log "keyed sends: one packet across processes ($made), another body under the key a 422"
  # The README's wrk step, as written, on a Redis-backed service (64-bit ids): every answer is a 200 grab answer;
  # and the script fails when answers are errors (ids that name no packet).
  log "wrk-grab.lua on a Redis-backed service (ids above 2^53)"
  ./make-packets.sh "http://127.0.0.1:$wrk_service" 20 >"$work/ids.txt"
  wrk -t1 -c4 -d1s -s wrk-grab.lua "http://127.0.0.1:$wrk_service" -- "$work/ids.txt" 500 >"$work/wrk.txt" \
    || fatal "wrk-grab.lua on valid ids failed: $(cat "$work/wrk.txt")"
  grep -q ", 0 not a 200 grab answer" "$work/wrk.txt" || fatal "wrk-grab.lua: $(cat "$work/wrk.txt")"
  echo 12345678901234567 >"$work/bad-ids.txt"
  if wrk -t1 -c4 -d1s -s wrk-grab.lua "http://127.0.0.1:$wrk_service" -- "$work/bad-ids.txt" 500 >"$work/wrk-bad.txt"; then
    fatal "wrk-grab.lua passed a run of 404 answers: $(cat "$work/wrk-bad.txt")"
  fi
  log "wrk-grab.lua: every answer checked"
else
  log "no HONGBAO_REDIS_URL: the shared-Redis run is skipped"
fi

# A crash loses nothing acknowledged: the in-process service with --journal, killed with SIGKILL five times under
# concurrent load; after each restart everything its clients were told is there, exactly. The same test against a
# buffered journal (fsync every 5 s) must fail: it shows the check catches a lost acknowledgement.
log "journal: SIGKILL the journaled service 5 times under load; every acknowledgement survives each restart"
python3 "$HONGBAO_ROOT/scripts/journal-crash-test.py" "$bin/hongbao-service" "$work" --kills 5 \
  || fatal "the journaled service lost an acknowledged change across a SIGKILL"
log "journal: the same test on a buffered journal (fsync every 5 s) must catch lost acknowledgements"
if python3 "$HONGBAO_ROOT/scripts/journal-crash-test.py" "$bin/hongbao-service" "$work" --kills 2 \
  --service-args "--journal-mode buffered --sync-every 5000" >"$work/buffered-crash.txt" 2>&1; then
  fatal "the crash test passed a buffered journal that cannot have kept every acknowledgement: $(cat "$work/buffered-crash.txt")"
fi
grep -q "FAIL" "$work/buffered-crash.txt" || fatal "the buffered crash test failed for another reason: $(cat "$work/buffered-crash.txt")"
log "journal: the buffered journal's losses are caught ($(grep FAIL "$work/buffered-crash.txt" | head -1))"
log "lifecycle: SIGTERM under load, 3 times: exit 0, requests drained, every acknowledgement kept — buffered journal too"
python3 "$HONGBAO_ROOT/scripts/journal-crash-test.py" "$bin/hongbao-service" "$work" --kills 3 --signal term \
  || fatal "a graceful stop of the durable journaled service"
python3 "$HONGBAO_ROOT/scripts/journal-crash-test.py" "$bin/hongbao-service" "$work" --kills 3 --signal term \
  --service-args "--journal-mode buffered --sync-every 5000" || fatal "a graceful stop of the buffered journaled service lost acknowledgements"
if [[ $(id -u) == 0 ]]; then
  log "journal: a full disk (a 2 MB tmpfs) fails its calls plainly and loses nothing acknowledged; a second opener is refused"
  python3 "$HONGBAO_ROOT/scripts/journal-crash-test.py" "$bin/hongbao-service" "$work" --full-disk \
    || fatal "the journaled service on a full disk"
else
  log "journal: not root, the full-disk test (a tmpfs) is skipped"
fi
