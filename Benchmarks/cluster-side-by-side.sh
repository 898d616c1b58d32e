#!/usr/bin/env bash
# Redis Cluster figures of issue 10, in one sitting, on clusters of this script's own (stopped by PID on exit):
#   1. 3 masters: `bench --shard K/N` with N = 1, 2, 3 processes sharing the run, merged by `hongbao merge`;
#      attempts/s of the merged run and each server's CPU over the run (INFO cpu, user + sys ÷ wall).
#   2. 3 masters + 3 replicas: one `bench --redis` plain and one `--durable` (WAIT 1), attempts/s and latency.
# On a machine of 2 cores the shards, the servers and their replicas share the cores: read the per-server CPU to
# project to real hosts.
# Usage: Benchmarks/cluster-side-by-side.sh [MEMBERS] [PACKETS]   (defaults 200000 50000)
source "$(dirname "$0")/../scripts/lib.sh"
cd "$HONGBAO_ROOT"
members=${1:-200000}
packets=${2:-50000}
swift build -c release --product bench >/dev/null && swift build -c release --product hongbao >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
trap '"$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/c3" || true; "$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/c6" || true; rm -rf "$work"' EXIT

cpu_of() {   # cpu_of PORT: user + sys seconds of the server so far
  redis-cli -p "$1" info cpu | awk -F: '/used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'
}

seeds=$("$HONGBAO_ROOT/scripts/redis-cluster.sh" start 7601 "$work/c3")
mapfile -t ports < <(awk '{print $1}' "$work/c3/nodes")
printf '%-8s %12s %10s %10s %14s   %s\n' shards attempts/s p50 p99 "server µs/att" "server CPU (each master, % of a core over the run)"
for n in 1 2 3; do
  for p in "${ports[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
  declare -A before=()
  for p in "${ports[@]}"; do before[$p]=$(cpu_of "$p"); done
  start=$(date +%s.%N)
  pids=()
  for k in $(seq "$n"); do
    "$bin/bench" --redis "$seeds" --shard "$k/$n" --run-id "side-$n-$$" --members "$members" --packets "$packets" \
      --threads 2 --db "$work/s$n-$k.db" --quiet &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  wall=$(echo "$(date +%s.%N) - $start" | awk '{print $1 - $3}')
  "$bin/hongbao" merge "$work/m$n.db" $(for k in $(seq "$n"); do echo "$work/s$n-$k.db"; done) >"$work/m$n.txt"
  read -r aps p50 p99 attempts < <(sqlite3 "$work/m$n.db" "SELECT CAST(attempts_per_s AS INTEGER), p50_ns, p99_ns, attempts FROM runs ORDER BY id DESC LIMIT 1" | tr '|' ' ')
  cpus="" total=0
  for p in "${ports[@]}"; do
    after=$(cpu_of "$p")
    cpus+=$(awk -v a="${before[$p]}" -v b="$after" -v w="$wall" 'BEGIN {printf "%d%% ", 100 * (b - a) / w}')
    total=$(awk -v t="$total" -v a="${before[$p]}" -v b="$after" 'BEGIN {print t + b - a}')
  done
  per=$(awk -v t="$total" -v n="$attempts" 'BEGIN {printf "%.1f", 1e6 * t / n}')
  grep -q "verdict: pass" "$work/m$n.txt" || { cat "$work/m$n.txt"; fatal "$n shards: the merged verdict failed"; }
  printf '%-8s %12s %8.1fms %8.1fms %14s   %s\n' "$n" "$aps" "$(echo "$p50" | awk '{print $1/1e6}')" "$(echo "$p99" | awk '{print $1/1e6}')" "$per" "$cpus"
done
"$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/c3"

seeds=$("$HONGBAO_ROOT/scripts/redis-cluster.sh" start 7701 "$work/c6" 1 5000)
printf '\n%-10s %12s %10s %10s\n' "3+3" attempts/s p50 p99
for mode in plain durable; do
  flag=(); [[ $mode == durable ]] && flag=(--durable)
  "$bin/bench" --redis "$seeds" "${flag[@]}" --members "$members" --packets "$packets" --threads 2 \
    --db "$work/$mode.db" --json --quiet >"$work/$mode.json"
  python3 - "$work/$mode.json" "$mode" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
assert run["verdict"]["lost_grants"] == 0 and run["verdict"]["paid_twice"] == 0, run["verdict"]
l = run["latency_ns"]
print(f"{sys.argv[2]:<10} {run['attempts_per_s']:12.0f} {l['p50'] / 1e6:8.1f}ms {l['p99'] / 1e6:8.1f}ms")
PY
done
