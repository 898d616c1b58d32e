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
# then 5. the same on three services sharing one redis-server, tokens checked: wrk's /health and grab and
# bench-http's hot run on one of them, and bench-http's festival over all three.
# Steps 1–4 (and 5's /health, grab, hot) run ROUNDS times, interleaved, so that each ratio is taken within one round
# and a drift of the shared host moves both sides of it; the summary gives each ratio's median and its range. The
# festivals run once, as context.
# Usage: Benchmarks/service-side-by-side.sh [CONNECTIONS] [SECONDS] [ROUNDS]   (defaults 64, 10 and 3)
source "$(dirname "$0")/../scripts/lib.sh"
export HONGBAO_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
connections=${1:-64}
seconds=${2:-10}
rounds=${3:-3}
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
wrk_health() { wrk_rps -t$threads -c"$connections" -d"${seconds}s" "$1/health"; }
wrk_grab() { wrk_rps -t$threads -c"$connections" -d"${seconds}s" -s wrk-grab.lua "$1" -- "$2" 500 ${3:+"$3"}; }
# bench_http URLS ARGS…: one bench-http run, its JSON summary on one line (bench-http exits non-zero on a failed
# verdict, and the summary below checks the verdict's fields again).
bench_http() {
  "$bin/bench-http" --http "$1" "${@:2}" --threads $threads --connections $((connections / threads)) --db "$work/http.db" --json --quiet \
    | tr -d '\n'
}
# The hot mix, sized to last about as long as a wrk run at this machine's rate (475 attempts a packet).
hot_packets=$((seconds * 60))
results="$work/results.jsonl"   # one JSON object a measurement
# record NAME ROUND COMMAND…: runs the measurement and keeps its figure (a failed one ends the script here).
record() {
  local value
  value=$("${@:3}")
  printf '{"what": "%s", "round": %s, "value": %s}\n' "$1" "$2" "$value" >>"$results"
}

port=$(free_port 18180)
start_service "$port"
url="http://127.0.0.1:$port"
insecure=$(free_port $((port + 5)))
start_service "$insecure" --insecure-dev
./make-packets.sh "$url" 200 >"$work/ids.txt"
env -u HONGBAO_JWT_SECRET ./make-packets.sh "http://127.0.0.1:$insecure" 200 >"$work/plain-ids.txt"
for round in $(seq "$rounds"); do
  log "in process, round $round of $rounds: wrk /health, wrk grab (tokens, then --insecure-dev), bench-http --scenario hot"
  record health "$round" wrk_health "$url"
  record grab "$round" wrk_grab "$url" "$work/ids.txt" "$work/tokens.txt"
  record plain "$round" wrk_grab "http://127.0.0.1:$insecure" "$work/plain-ids.txt"
  record hot "$round" bench_http "$url" --scenario hot --packets "$hot_packets" --seed "$round"
done
log "in process: bench-http's festival"
record festival 1 bench_http "$url" --members 200000 --packets 20000
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
for round in $(seq "$rounds"); do
  log "three Redis-backed services, round $round of $rounds: wrk /health, wrk grab, bench-http --scenario hot (one service)"
  record rhealth "$round" wrk_health "${urls[1]}"
  record rgrab "$round" wrk_grab "${urls[1]}" "$work/rids.txt" "$work/tokens.txt"
  record rhot "$round" bench_http "${urls[1]}" --scenario hot --packets "$hot_packets" --seed "$round"
done
log "three Redis-backed services: bench-http's festival over the three"
record rfestival 1 bench_http "$shared" --members 200000 --packets 20000

python3 - "$results" "$connections" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
connections = sys.argv[2]
def of(what):
    return {row["round"]: row["value"] for row in rows if row["what"] == what}
def rate(value):
    return value if isinstance(value, (int, float)) else value["runs"][0]["attempts_per_s"]
def verdict(value):
    run = value["runs"][0]
    v = run["verdict"]
    bad = [k for k in ("unbalanced", "oversold", "paid_twice", "below_one_fen", "lost_grants", "wrong_amounts",
                       "unreported_grants") if v[k]]
    if bad or v["paid_fen"] + v["refund_fen"] != v["total_fen"]:
        sys.exit(f"bench-http's verdict failed: {', '.join(bad) or 'paid + refund != total'}")
    return run
def ratio(name, top, bottom, target=None):
    tops, bottoms = of(top), of(bottom)
    ratios = [rate(tops[r]) / rate(bottoms[r]) for r in sorted(tops)]   # in round order
    line = (f"  {name}: median {statistics.median(ratios):.2f}x (rounds {', '.join(f'{x:.2f}' for x in ratios)})")
    if target is not None:
        line += f"; target >= {target}x: {'met' if statistics.median(ratios) >= target else 'missed'}"
    print(line)
def rates(name, what):
    values = [rate(v) for v in of(what).values()]
    print(f"  {name}: median {statistics.median(values):,.0f}/s (rounds {', '.join(f'{v:,.0f}' for v in values)})")
for what in ("hot", "festival", "rhot", "rfestival"):
    for run in of(what).values():
        verdict(run)
print(f"in process, -c {connections}:")
rates("wrk GET /health", "health")
rates("wrk POST grab, tokens checked", "grab")
rates("wrk POST grab, --insecure-dev", "plain")
rates("bench-http --scenario hot (wrk's mix)", "hot")
ratio("wrk grab / wrk /health", "grab", "health", 0.8)
ratio("bench-http hot / wrk grab", "hot", "grab", 0.9)
costs = [(1 / rate(of("grab")[r]) - 1 / rate(of("plain")[r])) * 2e6 for r in sorted(of("grab"))]
print(f"  checking a token: median {statistics.median(costs):.1f} µs of CPU a request (2 cores, saturated; rounds "
      f"{', '.join(f'{c:.1f}' for c in costs)})")
festival = verdict(of("festival")[1])
print(f"  bench-http festival (once): {festival['attempts_per_s']:,.0f} attempts/s -> "
      f"{festival['attempts_per_s'] / statistics.median(rate(v) for v in of('grab').values()):.2f}x wrk's grab (median); "
      f"p50 {festival['latency_ns']['p50'] / 1e3:.0f} µs, p99 {festival['latency_ns']['p99'] / 1e3:.0f} µs; verdict pass")
print("three services on one redis-server, tokens checked (wrk and the hot run on one of them):")
rates("wrk GET /health", "rhealth")
rates("wrk POST grab", "rgrab")
rates("bench-http --scenario hot", "rhot")
ratio("wrk grab / wrk /health", "rgrab", "rhealth", 0.8)
ratio("bench-http hot / wrk grab", "rhot", "rgrab", 0.9)
shared = verdict(of("rfestival")[1])
print(f"  bench-http festival over the three (once): {shared['attempts_per_s']:,.0f} attempts/s; "
      f"p50 {shared['latency_ns']['p50'] / 1e3:.0f} µs, p99 {shared['latency_ns']['p99'] / 1e3:.0f} µs; verdict pass")
PY
