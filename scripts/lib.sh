# Shared helpers for scripts/*: sourced, not run.
set -euo pipefail
HONGBAO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
fatal() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The system packages the build and the tests need: C libraries and the Redis server.
HONGBAO_APT_PACKAGES=(libhiredis-dev libsqlite3-dev sqlite3 redis-server redis-tools pkg-config curl python3 iproute2 wrk)

# Installs whatever of HONGBAO_APT_PACKAGES is missing (apt-get, as root or through sudo).
ensure_system_packages() {
  local missing=() pkg
  for pkg in "${HONGBAO_APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  command -v apt-get >/dev/null || fatal "missing ${missing[*]} and no apt-get to install them"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The Python packages the tests need, pinned: schemathesis (property-based tests of the example service from its
# openapi.yaml).
HONGBAO_PIP_PACKAGES=(schemathesis==4.32.5)

# Installs whatever of HONGBAO_PIP_PACKAGES is missing (pip, for the current user when not root).
ensure_python_packages() {
  local missing=() spec
  for spec in "${HONGBAO_PIP_PACKAGES[@]}"; do
    [[ $(python3 -m pip show "${spec%%==*}" 2>/dev/null | awk '/^Version:/ {print $2}') == "${spec##*==}" ]] || missing+=("$spec")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]} (pip)"
  local user=""
  [[ $(id -u) == 0 ]] || user="--user"
  python3 -m pip install -q $user "${missing[@]}" 2>&1 | grep -v "as the 'root' user" >&2 || true
  python3 -m schemathesis.cli --version >/dev/null || fatal "pip could not install ${missing[*]}"
}

# Picks a TCP port at or above $1 that nothing listens on at address $2 (default loopback).
free_port() {
  local port=$1 host=${2:-127.0.0.1}
  while (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# start_redis PORT DIR [extra redis-server args…]: starts redis-server on 127.0.0.1:PORT in the background,
# waits until it answers PING, and prints its PID. The caller stops it by PID (stop_pids).
start_redis() {
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --logfile "$dir/redis.log" --daemonize no "$@" >/dev/null 2>&1 &
  local pid=$!
  local i
  for i in $(seq 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && { echo "$pid"; return 0; }
    kill -0 "$pid" 2>/dev/null || fatal "redis-server on port $port exited: $(tail -3 "$dir/redis.log" 2>/dev/null)"
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  fatal "redis-server on port $port did not answer within 10 s"
}

# Stops the given PIDs and waits until they are gone — also those another shell started, which `wait` cannot
# wait for (up to 10 s, then SIGKILL).
stop_pids() {
  local pid i
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    wait "$pid" 2>/dev/null || true
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
