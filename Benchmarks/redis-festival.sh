#!/usr/bin/env bash
# The festival workload through `bench --redis` on one redis-server, side by side with redis-benchmark running the
# one-grab script of Benchmarks/limits (grab.lua: HEXISTS, LPOP, HSET) at -P 64 -c 50, in the same sitting, against one
# redis-server of this script's own on loopback (stopped by PID on exit). Prints both rates, their ratio, the
# phases of the bench run and the server time per attempt (INFO commandstats: EVALSHA µs ÷ attempts).
# Usage: Benchmarks/redis-festival.sh [MEMBERS] [PACKETS]   (defaults 200000 50000)
source "$(dirname "$0")/../scripts/lib.sh"
cd "$HONGBAO_ROOT"
members=${1:-200000}
packets=${2:-50000}
limits=${HONGBAO_LIMITS:-$HONGBAO_ROOT/Benchmarks/limits}   # or ../shared/limits, for a second opinion
[[ -f $limits/grab.lua && -f $limits/fill.lua ]] || fatal "need grab.lua and fill.lua in $limits (HONGBAO_LIMITS=…)"
swift build -c release --product bench >/dev/null

work=$(mktemp -d)
port=$(free_port 6580)
pid=$(start_redis "$port" "$work")
trap 'stop_pids "$pid"; rm -rf "$work"' EXIT
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

log "peer: redis-benchmark EVALSHA grab.lua -P 64 -c 50"
fill=$(cli SCRIPT LOAD "$(cat "$limits/fill.lua")")
grab=$(cli SCRIPT LOAD "$(cat "$limits/grab.lua")")
n=1000000
cli EVALSHA "$fill" 2 hb:amounts hb:grabbed $((n / 10 + 100)) 10 10000 >/dev/null
peer=$(redis-benchmark -h 127.0.0.1 -p "$port" -q -n $n -c 50 -P 64 -r 1000000000 EVALSHA "$grab" 2 hb:amounts hb:grabbed __rand_int__ 2>&1 \
  | tr '\r' '\n' | grep "requests per second" | tail -1 | grep -oE '[0-9.]+ requests per second' | awk '{print $1}')
cli FLUSHALL >/dev/null
cli CONFIG RESETSTAT >/dev/null

log "ours: bench --redis, festival, $members members, $packets packets"
json=$("$(swift build -c release --show-bin-path)/bench" --redis "redis://127.0.0.1:$port" --members "$members" \
  --packets "$packets" --db "$work/festival.db" --json --quiet)
evalsha_usec=$(cli INFO commandstats | grep '^cmdstat_evalsha:' | grep -oE 'usec=[0-9]+' | cut -d= -f2)
python3 - "$peer" "$evalsha_usec" <<PY
import json, sys
peer, usec = float(sys.argv[1]), int(sys.argv[2])
run = json.loads('''$json''')["runs"][0]
print(f"peer redis-benchmark grab.lua -P 64 -c 50: {peer:,.0f} grabs/s")
print(f"ours, festival: {run['attempts_per_s']:,.0f} attempts/s, {run['grabs_per_s']:,.0f} grabs/s -> {run['attempts_per_s'] / peer:.2f}x the peer; verdict {run['verdict']['paid_fen'] + run['verdict']['refund_fen'] == run['verdict']['total_fen']}")
print(f"phases: send {run['send_seconds']:.2f} s, grab {run['seconds']:.2f} s, verify + record {run['record_seconds']:.2f} s "
      f"(send {run['send_seconds'] / run['seconds']:.0%} and verify {run['record_seconds'] / run['seconds']:.0%} of the grab phase)")
print(f"server time per attempt (EVALSHA µs, grabs and expiries, / attempts): {usec / run['attempts']:.2f} µs")
PY
