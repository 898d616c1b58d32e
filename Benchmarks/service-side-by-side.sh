#!/usr/bin/env bash
# The example service under HTTP load, side by side in one sitting (release builds, same connection count):
#   1. wrk GET /health                 — HTTP's own cost in this service (no token: /health is open)
#   2. wrk POST /packets/{id}/grab     — the grab endpoint (Examples/HongbaoService/wrk-grab.lua) on packets
#                                        created beforehand, each grab with its member's bearer token checked
#   3. bench-http                      — our load generator on the same service, tokens signed, verdict checked:
#                                        --scenario hot (100-share packets of 500-member groups, as wrk-grab.lua's),
#                                        the like-for-like figure; then the festival (200,000 members, whose tokens
#                                        the service verifies once each: more service work per grab than wrk asks)
#   4. wrk's grab on an --insecure-dev service — what checking a token costs a request
# then 5. the grab endpoint (wrk and bench-http's hot run on one of them) and bench-http's festival over all three,
# for three services sharing one redis-server, tokens checked.
# Usage: Benchmarks/service-side-by-side.sh [CONNECTIONS] [SECONDS]   (defaults 64 and 10)
source "$(dirname "$0")/../scripts/lib.sh"
export HONGBAO_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
connections=${1:-64}
seconds=${2:-10}
cd "$HONGBAO_ROOT/Examples/HongbaoService"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
pids=()
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT

start_service() {
  local port=$1; shift
  if [[ " $* " == *" --insecure-dev "* ]]; then
    env -u HONGBAO_JWT_SECRET "$bin/hongbao-service" --port "$port" "$@" >"$work/service-$port.log" 2>&1 &
  else
    "$bin/hongbao-service" --port "$port" "$@" >"$work/service-$port.log" 2>&1 &
  fi
  pids+=("$!")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.1; done
  fatal "hongbao-service on port $port did not start: $(tail -3 "$work/service-$port.log")"
}

# wrk_rps ARGS…: runs wrk and prints its requests/s — only if every answer was a 2xx (and, for the grab script, a
# grab answer): a figure of error answers is no figure.
wrk_rps() {
  local out status=0
  out=$(wrk "$@") || status=$?
  if ((status != 0)) || grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
    fatal "wrk $*: answers that were not 2xx (exit $status): $(grep -E 'Non-2xx|Socket errors|checked answers' <<<"$out")"
  fi
  grep 'Requests/sec' <<<"$out" | awk '{print $2}'
}
threads=2
python3 "$HONGBAO_ROOT/scripts/sign-token.py" 1-500 >"$work/tokens.txt"

port=$(free_port 18180)
start_service "$port"
url="http://127.0.0.1:$port"
./make-packets.sh "$url" 200 >"$work/ids.txt"
health=$(wrk_rps -t$threads -c"$connections" -d"${seconds}s" "$url/health")
grab=$(wrk_rps -t$threads -c"$connections" -d"${seconds}s" -s wrk-grab.lua "$url" -- "$work/ids.txt" 500 "$work/tokens.txt")
bench_http() {
  "$bin/bench-http" --http "$1" "${@:2}" --threads $threads --connections $((connections / threads)) --db "$work/http.db" --json --quiet
}
hot=$(bench_http "$url" --scenario hot --packets 2000)
bench=$(bench_http "$url" --members 200000 --packets 20000)
stop_pids "${pids[@]}"; pids=()

insecure=$(free_port $((port + 5)))
start_service "$insecure" --insecure-dev
env -u HONGBAO_JWT_SECRET ./make-packets.sh "http://127.0.0.1:$insecure" 200 >"$work/plain-ids.txt"
plain=$(wrk_rps -t$threads -c"$connections" -d"${seconds}s" -s wrk-grab.lua "http://127.0.0.1:$insecure" -- "$work/plain-ids.txt" 500)
stop_pids "${pids[@]}"; pids=()
redis_port=$(free_port 6680)
pids+=("$(start_redis "$redis_port" "$work/redis")")
urls=()
for k in 0 1 2; do
  p=$(free_port $((port + 10 + k)))
  start_service "$p" --redis "redis://127.0.0.1:$redis_port"
  urls+=("http://127.0.0.1:$p")
done
shared=$(IFS=,; echo "${urls[*]}")
./make-packets.sh "${urls[0]}" 200 >"$work/rids.txt"
rgrab=$(wrk_rps -t$threads -c"$connections" -d"${seconds}s" -s wrk-grab.lua "${urls[1]}" -- "$work/rids.txt" 500 "$work/tokens.txt")
rhot=$(bench_http "${urls[1]}" --scenario hot --packets 2000)   # the service wrk loads
rbench=$(bench_http "$shared" --members 200000 --packets 20000)

python3 - "$health" "$grab" "$rgrab" "$plain" <<PY
import json, sys
health, grab, rgrab, plain = map(float, sys.argv[1:5])
def verdict(run):
    v = run["verdict"]
    bad = [k for k in ("unbalanced", "oversold", "paid_twice", "below_one_fen", "lost_grants", "wrong_amounts", "unreported_grants") if v[k]]
    return "pass" if not bad and v["paid_fen"] + v["refund_fen"] == v["total_fen"] else "FAIL " + ", ".join(bad)
ours = json.loads('''$bench''')["runs"][0]
hot = json.loads('''$hot''')["runs"][0]
shared = json.loads('''$rbench''')["runs"][0]
rhot = json.loads('''$rhot''')["runs"][0]
print(f"wrk GET /health, -c $connections: {health:,.0f} requests/s")
print(f"wrk POST grab, in process, tokens checked, -c $connections: {grab:,.0f} requests/s -> {grab / health:.2f}x /health")
print(f"wrk POST grab, in process, --insecure-dev: {plain:,.0f} requests/s; checking the token costs "
      f"{(1 / grab - 1 / plain) * 2e6:.1f} µs of CPU a request (2 cores, saturated)")
def bench(name, run, wrk):
    print(f"  bench-http {name}: {run['attempts_per_s']:,.0f} attempts/s -> {run['attempts_per_s'] / wrk:.2f}x wrk's grab; "
          f"p50 {run['latency_ns']['p50'] / 1e3:.0f} µs, p99 {run['latency_ns']['p99'] / 1e3:.0f} µs; verdict {verdict(run)}")
print("in process:")
bench("--scenario hot (wrk's mix)", hot, grab)
bench("festival", ours, grab)
print(f"three services on one redis-server, tokens checked: wrk grab {rgrab:,.0f} requests/s ({rgrab / health:.2f}x /health)")
bench("--scenario hot (wrk's mix), on the service wrk loads", rhot, rgrab)
bench("festival, over the three services", shared, rgrab)
PY
