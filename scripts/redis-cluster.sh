#!/usr/bin/env bash
# A local 3-master Redis Cluster on loopback, for tests and `bench --redis`.
#   scripts/redis-cluster.sh start [FIRST_PORT] [DIR]   prints the seeds URL (redis://127.0.0.1:P1,...) on stdout
#                                                       and writes the servers' PIDs to DIR/pids
#   scripts/redis-cluster.sh stop [DIR]                 stops the servers by PID
source "$(dirname "$0")/lib.sh"

cmd=${1:-}
case $cmd in
  start)
    first=$(free_port "${2:-7101}")
    dir=${3:-/tmp/hongbao-cluster}
    mkdir -p "$dir"
    : > "$dir/pids"
    ports=()
    port=$first
    for i in 1 2 3; do
      port=$(free_port "$port")
      rm -rf "${dir:?}/$port" && mkdir -p "$dir/$port"   # a fresh node: no old cluster config
      redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" --save '' --appendonly no \
        --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 2000 \
        --logfile "$dir/$port/redis.log" --daemonize no >/dev/null 2>&1 &
      echo $! >> "$dir/pids"
      ports+=("$port")
      port=$((port + 1))
    done
    for p in "${ports[@]}"; do
      for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 \
      || fatal "redis-cli --cluster create failed: $(tail -3 "$dir/create.log")"
    for _ in $(seq 100); do
      ok=1
      for p in "${ports[@]}"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      done
      ((ok)) && break
      sleep 0.1
    done
    ((ok)) || fatal "the cluster did not reach cluster_state:ok"
    seeds=""
    for p in "${ports[@]}"; do seeds+="${seeds:+,}redis://127.0.0.1:$p"; done
    echo "$seeds"
    ;;
  stop)
    dir=${2:-/tmp/hongbao-cluster}
    [[ -f $dir/pids ]] || exit 0
    mapfile -t pids < "$dir/pids"
    stop_pids "${pids[@]}"
    rm -f "$dir/pids"
    ;;
  *) fatal "usage: scripts/redis-cluster.sh start [FIRST_PORT] [DIR] | stop [DIR]" ;;
esac
