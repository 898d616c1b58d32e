#!/usr/bin/env bash
# The journaled engine on the festival, in one sitting, beside what it is compared with (issue 20): the lock-free
# engine unjournaled; the journaled engine durable (answers after the fsync of its group commit) at 1,024 and 4,096
# async calls in flight per thread, in batches of 64 and 256 calls (as the Redis engine's --batch), with snapshots
# taken while it runs, and buffered (fsync every second); the Redis engine on a redis-server of this
# script's own with `appendonly yes` and `appendfsync always`, then `everysec`. Each bench run checks its verdict
# (exit 2 fails this script); the journaled runs also reopen the journal and compare the recovered state with the
# served one, and print the replay rate (no snapshot: --compact-after above the run's entries, so recovery
# replays the whole history). Usage: Benchmarks/journal-side-by-side.sh [MEMBERS] [PACKETS] (defaults 1000000 100000)
source "$(dirname "$0")/../scripts/lib.sh"
cd "$HONGBAO_ROOT"
members=${1:-1000000}
packets=${2:-100000}
swift build -c release --product bench >/dev/null
bench=$(swift build -c release --show-bin-path)/bench
work=$(mktemp -d)
pids=()
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT
common=(--members "$members" --packets "$packets" --db "$work/journal.db")

run() {   # run NAME ARGS…: one bench run; prints its table row and the journal's lines
  log "$1"
  shift
  "$bench" "${common[@]}" "$@" >"$work/out.txt" 2>&1 || fatal "bench $* failed (exit $?): $(tail -5 "$work/out.txt")"
  grep -E "^(lock-free|journaled|redis) |^journal |^recovery" "$work/out.txt"
}

run "unjournaled: lock-free" --engine lock-free
run "journaled, durable, 1,024 in flight a thread" --engine journaled --in-flight 1024 --compact-after 100000000
run "journaled, durable, 4,096 in flight a thread" --engine journaled --in-flight 4096 --compact-after 100000000
run "journaled, durable, batches of 64 from 16 threads (1,024 in flight, as the Redis engine's --batch 64)" \
  --engine journaled --journal-batch 64 --threads 16 --compact-after 100000000
run "journaled, durable, batches of 256 from 8 threads (2,048 in flight)" \
  --engine journaled --journal-batch 256 --threads 8 --compact-after 100000000
run "journaled, durable, 1,024 in flight, a snapshot every 200,000 entries" --engine journaled --compact-after 200000
run "journaled, buffered (fsync every 1,000 ms)" --engine journaled --journal-mode buffered --sync-every 1000
for fsync in always everysec; do
  port=$(free_port 6640)
  pid=$(start_redis "$port" "$work/redis-$fsync" --appendonly yes --appendfsync "$fsync")
  pids+=("$pid")
  run "redis, appendonly yes, appendfsync $fsync (--batch 64)" --redis "redis://127.0.0.1:$port"
  stop_pids "$pid"
done
