#!/usr/bin/env bash
# Redis figures side by side: our engine (RedisGrabs: single, pipelined ×64, batched ×64; 1 and 2 threads) and
# redis-benchmark running OUR grab script on a hot packet of its own at -P 1 and -P 64 (-c 50, as limits/redis.sh),
# against one redis-server of this script's own on loopback (stopped by PID on exit).
# Usage: Benchmarks/redis-side-by-side.sh [grabs per RedisGrabs measurement]
source "$(dirname "$0")/../scripts/lib.sh"
cd "$HONGBAO_ROOT/Benchmarks"
grabs=${1:-200000}
swift build -c release --product RedisGrabs >/dev/null
bin=$(swift build -c release --show-bin-path)/RedisGrabs

work=$(mktemp -d)
port=$(free_port 6480)
pid=$(start_redis "$port" "$work")
trap 'stop_pids "$pid"; rm -rf "$work"' EXIT
url="redis://127.0.0.1:$port"

log "our engine ($grabs grabs per measurement)"
"$bin" "$url" "$grabs" | tee "$work/ours.csv"

# redis-benchmark: the same script (one grabber per call: ARGV now, 1, no voucher, member) on a hot packet whose
# members are redis-benchmark's 12-digit __rand_int__ ids.
"$bin" --print-script > "$work/grab.lua"
sha=$(redis-cli -p "$port" -x SCRIPT LOAD < "$work/grab.lua")
keys=("hb:{bench}:p:1" "hb:{bench}:s:1")   # the packet's hash and its list of each share's 48-bit random
group="hb:{bench}:g:bench"                  # its group's set: a big group, as in the festival's hot packets
members=3000000
redis-cli -p "$port" HSET "${keys[0]}" left $members balance $((members * 100)) closed 0 expires_ms 4102444800000 \
  shares $members cap 20000 total $((members * 100)) refund 0 mode grab group "$group" >/dev/null
redis-cli -p "$port" EVAL "for i = 0, tonumber(ARGV[1]) - 1 do redis.call('SADD', KEYS[1], string.format('%012d', i)) end return 1" \
  1 "$group" $members >/dev/null
redis-cli -p "$port" EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('RPUSH', KEYS[1], (i * 2654435761) % 281474976710656) end return 1" \
  1 "${keys[1]}" $members >/dev/null
echo "test,pipeline,requests,rps"
for P in 1 64; do
  n=200000; [[ $P == 64 ]] && n=2000000
  line=$(redis-benchmark -h 127.0.0.1 -p "$port" -q -n $n -c 50 -P $P -r $members \
    EVALSHA "$sha" 2 "${keys[@]}" 1700000000000 1 "" __rand_int__ 2>&1 | tr '\r' '\n' | grep "requests per second" | tail -1)
  echo "redis-benchmark-our-script,$P,$n,$(grep -oE '[0-9.]+ requests per second' <<<"$line" | awk '{print $1}')"
done
left=$(redis-cli -p "$port" HGET "${keys[0]}" left)
log "redis-benchmark's packet: $((members - left)) shares taken, $(( $(redis-cli -p "$port" HLEN "${keys[0]}") - 10 )) members recorded"
