#!/usr/bin/env bash
# The C reference programs our ratios are measured against, built and run in one go, on this machine:
#   in process  grab_limits: cas (one hot packet), sharded-cas (one packet per thread), mutex — 1 and 2 threads
#   Redis       redis-benchmark running grab.lua at -P 1/16/64 -c 50; redis_client (hiredis) DECR and EVALSHA
#               grab.lua, 2 threads, batch 1 and 64 — against a redis-server of its own, stopped by PID
#   SQLite      sqlite_insert: a 6-column grab table, 100,000 rows per transaction, WAL, synchronous = NORMAL
#   memory      packet_memory: resident bytes of a 100-share packet to a 500-member group (group stored once)
#   hand-offs   wakeup: a thread woken from a semaphore by another, on the same CPU and across CPUs
# Knobs: GRABS (default 20000000), ROWS (2000000), CALLS (400000), WAKEUPS (200000), RUNS (3: each figure is the
# median of RUNS).
# Needs a C compiler (cc, or the clang of the Swift toolchain), libhiredis-dev, libsqlite3-dev, redis-server.
source "$(dirname "$0")/../../scripts/lib.sh"
here="$HONGBAO_ROOT/Benchmarks/limits"
grabs=${GRABS:-20000000} rows=${ROWS:-2000000} calls=${CALLS:-400000} wakeups=${WAKEUPS:-200000} runs=${RUNS:-3}
cc=${CC:-$(command -v cc || command -v clang || command -v gcc)} || fatal "no C compiler (set CC)"
out=$(mktemp -d /tmp/hongbao-limits.XXXXXX)
pid=""
trap '[[ -n $pid ]] && stop_pids "$pid"; rm -rf "$out"' EXIT

"$cc" -O2 -pthread -o "$out/grab_limits" "$here/grab_limits.c"
"$cc" -O2 -o "$out/sqlite_insert" "$here/sqlite_insert.c" -lsqlite3
"$cc" -O2 -o "$out/packet_memory" "$here/packet_memory.c"
"$cc" -O2 -pthread -o "$out/wakeup" "$here/wakeup.c"
"$cc" -O2 -pthread -o "$out/redis_client" "$here/redis_client.c" -lhiredis

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
repeat() { local i; for i in $(seq "$runs"); do "$@"; done; }

echo "in process (M grabs/s, median of $runs)"
for mode in cas sharded-cas mutex; do
  for threads in 1 2; do
    printf '  %-12s %d thread(s)  %s\n' "$mode" "$threads" \
      "$(repeat "$out/grab_limits" "$mode" "$threads" "$grabs" | awk '{print $5}' | median)"
  done
done

echo "SQLite inserts (rows/s, median of $runs)"
printf '  %s\n' "$(repeat "$out/sqlite_insert" "$out/insert.db" "$rows" | awk '{print $3}' | median)"

echo "memory (bytes per 100-share packet, 1,000,000 packets over 10,000 groups of 500)"
printf '  %s\n' "$("$out/packet_memory" 1000000 10000 | cut -d' ' -f2-)"

echo "thread hand-offs (µs a wake-up, wall / CPU of both threads, median of $runs)"
for mode in same cross; do
  [[ $mode == cross && $(getconf _NPROCESSORS_ONLN) -lt 2 ]] && { echo "  cross: one CPU only, not measured"; continue; }
  figures=$(repeat "$out/wakeup" "$mode" $((wakeups / 2)))
  printf '  %-5s  %s / %s\n' "$mode" "$(awk '{print $3}' <<<"$figures" | median)" "$(awk '{print $4}' <<<"$figures" | median)"
done

port=$(free_port 6680)
pid=$(start_redis "$port" "$out/redis")
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
fill=$(cli SCRIPT LOAD "$(cat "$here/fill.lua")")
grab=$(cli SCRIPT LOAD "$(cat "$here/grab.lua")")
refill() { cli EVALSHA "$fill" 2 limits:shares limits:winners $((calls / 10 + 1000)) 10 10000 >/dev/null; }
echo "Redis (calls/s, median of $runs)"
for p in 1 16 64; do
  rate=$(for _ in $(seq "$runs"); do
    refill
    redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$calls" -c 50 -P "$p" -r 1000000000 \
      EVALSHA "$grab" 2 limits:shares limits:winners __rand_int__ 2>&1 | tr '\r' '\n' \
      | grep -oE '[0-9.]+ requests per second' | tail -1 | awk '{print $1}'
  done | median)
  printf '  redis-benchmark grab.lua -P %-3s -c 50   %s\n' "$p" "$rate"
done
for batch in 1 64; do
  printf '  hiredis DECR, 2 threads, batch %-3s      %s\n' "$batch" \
    "$(repeat "$out/redis_client" 127.0.0.1 "$port" 2 "$batch" "$calls" decr | awk '{print $6}' | median)"
  printf '  hiredis grab.lua, 2 threads, batch %-3s  %s\n' "$batch" \
    "$(for _ in $(seq "$runs"); do refill; "$out/redis_client" 127.0.0.1 "$port" 2 "$batch" "$calls" grab "$grab"; done | awk '{print $6}' | median)"
done
