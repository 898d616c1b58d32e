#!/usr/bin/env bash
# A local Redis Cluster on loopback, for tests and `bench --redis`.
#   scripts/redis-cluster.sh start [FIRST_PORT] [DIR] [REPLICAS] [NODE_TIMEOUT_MS]
#       3 masters, each with REPLICAS replicas (default 0); prints the seeds URL (redis://127.0.0.1:P1,...) on
#       stdout; writes "PORT PID" per node to DIR/nodes and the PIDs to DIR/pids. NODE_TIMEOUT_MS (default 2000)
#       is cluster-node-timeout: how long a silent master takes to be failed over (short for tests).
#   scripts/redis-cluster.sh restart PORT [DIR]       starts a node again that was killed (it rejoins the cluster,
#       as a replica of whichever node was promoted in its place)
#   scripts/redis-cluster.sh stop [DIR]               stops every server by PID
# HONGBAO_CLUSTER_HOST (default 127.0.0.1): the address the nodes bind and announce (e.g. a bridge's, so that
# load generators in network namespaces reach them).
source "$(dirname "$0")/lib.sh"
host=${HONGBAO_CLUSTER_HOST:-127.0.0.1}

# start_node PORT DIR TIMEOUT: one cluster node in the background; appends "PORT PID" to DIR/nodes.
start_node() {
  local port=$1 dir=$2 timeout=$3 open=()
  # Off loopback (a bridge private to this machine, for test hosts in namespaces) there is no password to set.
  [[ $host == 127.0.0.1 ]] || open=(--protected-mode no)
  mkdir -p "$dir/$port"
  redis-server "${open[@]}" --port "$port" --bind "$host" --dir "$dir/$port" --save '' --appendonly no \
    --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout "$timeout" \
    --cluster-replica-validity-factor 0 --logfile "$dir/$port/redis.log" --daemonize no >/dev/null 2>&1 &
  echo "$port $!" >> "$dir/nodes"
  echo $! >> "$dir/pids"
  for _ in $(seq 100); do redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  fatal "cluster node $port did not answer: $(tail -3 "$dir/$port/redis.log")"
}

cluster_ok() {
  local p
  for p in "$@"; do redis-cli -h "$host" -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || return 1; done
}

cmd=${1:-}
case $cmd in
  start)
    first=$(free_port "${2:-7101}" "$host")
    dir=${3:-/tmp/hongbao-cluster}
    replicas=${4:-0}
    timeout=${5:-2000}
    mkdir -p "$dir"
    echo "$timeout" > "$dir/node-timeout"
    : > "$dir/pids"
    : > "$dir/nodes"
    ports=()
    port=$first
    for _ in $(seq $((3 * (1 + replicas)))); do
      port=$(free_port "$port" "$host")
      rm -rf "${dir:?}/$port"   # a fresh node: no old cluster config
      start_node "$port" "$dir" "$timeout"
      ports+=("$port")
      port=$((port + 1))
    done
    redis-cli --cluster create "${ports[@]/#/$host:}" --cluster-replicas "$replicas" --cluster-yes \
      >"$dir/create.log" 2>&1 || fatal "redis-cli --cluster create failed: $(tail -3 "$dir/create.log")"
    ok=0
    for _ in $(seq 200); do cluster_ok "${ports[@]}" && { ok=1; break; }; sleep 0.1; done
    ((ok)) || fatal "the cluster did not reach cluster_state:ok"
    if ((replicas > 0)); then   # every replica in sync with its master before anyone relies on a failover
      for _ in $(seq 200); do
        synced=0
        for p in "${ports[@]}"; do
          redis-cli -h "$host" -p "$p" info replication 2>/dev/null | grep -q 'master_link_status:up' && synced=$((synced + 1))
        done
        ((synced == 3 * replicas)) && break
        sleep 0.1
      done
    fi
    seeds=""
    for p in "${ports[@]}"; do seeds+="${seeds:+,}redis://$host:$p"; done
    echo "$seeds"
    ;;
  restart)
    port=${2:?usage: scripts/redis-cluster.sh restart PORT [DIR]}
    dir=${3:-/tmp/hongbao-cluster}
    start_node "$port" "$dir" "$(cat "$dir/node-timeout" 2>/dev/null || echo 2000)"
    ;;
  stop)
    dir=${2:-/tmp/hongbao-cluster}
    [[ -f $dir/pids ]] || exit 0
    mapfile -t pids < "$dir/pids"
    stop_pids "${pids[@]}"
    rm -f "$dir/pids" "$dir/nodes"
    ;;
  *) fatal "usage: scripts/redis-cluster.sh start [FIRST_PORT] [DIR] [REPLICAS] [NODE_TIMEOUT_MS] | restart PORT [DIR] | stop [DIR]" ;;
esac
