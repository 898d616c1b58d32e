#!/usr/bin/env bash
# How long durable calls stall when a master dies, with one replica per master and with two (issue 18), in one
# sitting: a 3+N cluster (1 s node timeout) of this script's own, `bench --redis --durable` on it, the master
# serving slot 0 killed with SIGKILL mid-grab. With one replica the promoted replica has no replica of its own, so
# WAIT 1 cannot be answered until the killed node is back (restarted here at once after the promotion, as a
# supervisor would) and has resynced; with two, the promoted replica keeps one, and acknowledgements resume as
# soon as it serves. Prints, per setting: the failover time (from the kill to the first call served by the
# promoted replica, as bench reports it) and the run's maximum grab latency (the stall a caller saw).
# Usage: Benchmarks/durable-stall.sh [BENCH_BINARY]   (default: a release build)
source "$(dirname "$0")/../scripts/lib.sh"
cd "$HONGBAO_ROOT"
bench=${1:-}
if [[ -z $bench ]]; then
  swift build -c release --product bench >/dev/null
  bench="$(swift build -c release --show-bin-path)/bench"
fi
work=$(mktemp -d /tmp/hongbao-stall.XXXXXX)
trap '"$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

for replicas in 1 2; do
  seeds=$("$HONGBAO_ROOT/scripts/redis-cluster.sh" start 7701 "$work/cluster" "$replicas" 1000)
  any=$(awk 'NR==1 {print $1}' "$work/cluster/nodes")
  port=$(redis-cli -p "$any" cluster nodes | awk '/master/ && !/fail/ && $9 ~ /^0-/ {split($2, a, "[:@]"); print a[2]}')
  pid=$(awk -v p="$port" '$1 == p {print $2}' "$work/cluster/nodes" | tail -1)
  before=$(redis-cli -p "$port" info commandstats | awk -F'[=,]' '$1 == "cmdstat_lpop:calls" {print $2}')
  "$bench" --redis "$seeds" --durable --members 200000 --packets 40000 --threads 2 --batch 32 --seed 7 \
    --db "$work/r$replicas.db" --json --quiet >"$work/r$replicas.json" 2>"$work/r$replicas.err" &
  bench_pid=$!
  for _ in $(seq 2400); do
    calls=$(redis-cli -p "$port" info commandstats 2>/dev/null | awk -F'[=,]' '$1 == "cmdstat_lpop:calls" {print $2}')
    (( ${calls:-0} - ${before:-0} > 300 )) && break   # mid-grab: 300 winning grabs (LPOP) served
    sleep 0.025
  done
  killed_at=$(date +%s%3N)
  kill -9 "$pid"
  other=$(awk -v p="$port" '$1 != p {print $1; exit}' "$work/cluster/nodes")
  for _ in $(seq 600); do
    owner=$(redis-cli -p "$other" cluster nodes | awk '/master/ && !/fail/ && $9 ~ /^0-/ {split($2, a, "[:@]"); print a[2]}')
    [[ -n $owner && $owner != "$port" ]] && break
    sleep 0.05
  done
  # One replica: acknowledgements wait for the killed node to come back as the new master's replica. Two: they
  # need no restart (the killed node stays down for the rest of the run).
  ((replicas == 1)) && "$HONGBAO_ROOT/scripts/redis-cluster.sh" restart "$port" "$work/cluster" >/dev/null
  status=0
  wait "$bench_pid" || status=$?
  python3 - "$work/r$replicas.json" "$work/r$replicas.err" "$replicas" "$status" "$killed_at" <<'PY'
import json, re, sys
path, err, replicas, status, killed_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if status != 0:
    sys.exit(f"{replicas} replica(s): bench exited {status}: " + open(err).read().strip()[-300:])
run = json.load(open(path))["runs"][0]
found = re.search(r"served by \S+ ([0-9.]+) s later \[failed at (\d+)", open(err).read())
took = (int(found.group(2)) - killed_at) / 1000 + float(found.group(1)) if found else float("nan")
print(f"{replicas} replica(s) per master: failover {took:.2f} s from the kill; longest durable grab "
      f"{run['latency_ns']['max'] / 1e9:.2f} s; {run['attempts_per_s']:,.0f} attempts/s; verdict "
      f"{'pass' if run['verdict']['lost_grants'] == 0 else 'FAIL'}")
PY
  "$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/cluster"
done
