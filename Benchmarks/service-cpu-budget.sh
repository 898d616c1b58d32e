#!/usr/bin/env bash
# Where a request's CPU goes, and whether "wrk's grab ≥ 0.8× wrk's /health" can be reached here at all.
#
# For wrk's GET /health and wrk's grab (wrk-grab.lua, bearer tokens checked) on the in-process service and on one
# of three services sharing a redis-server, it takes the CPU time of the loaded service and of redis-server
# (/proc, before and after the wrk run) and of wrk (its rusage), and divides each by the requests wrk had answered
# and checked. Every answer is checked: a run with an answer that was not a 2xx grab answer ends the script.
#
# With wrk and the services on the same cores, saturated, a request rate is the inverse of the CPU a request costs
# the machine; so grab ÷ /health ≥ 0.8× means a grab may cost the machine at most 1.25× a /health request, and its
# extras over /health at most a quarter of one (the budget). What a Redis-backed grab costs beyond /health whatever
# its Redis client does — the in-process service's own extras (body, token, route, answer, wrk's script) and the
# grab script's own time in redis-server, measured alone in calls of 200 grabs — is a floor under every client
# design; the ceiling is the ratio a client that cost nothing would reach: below 0.8×, no client reaches it here.
# Usage: Benchmarks/service-cpu-budget.sh [ROUNDS] [SECONDS]   (defaults 3 and 10)
source "$(dirname "$0")/../scripts/lib.sh"
export HONGBAO_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
rounds=${1:-3}
seconds=${2:-10}
[[ $rounds =~ ^[1-9][0-9]*$ && $seconds =~ ^[1-9][0-9]*$ ]] || fatal "usage: $0 [ROUNDS] [SECONDS] (positive integers)"
cd "$HONGBAO_ROOT/Examples/HongbaoService"
log "building the example in release"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
pids=()
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT

# start_service PORT ARGS…: starts a service and prints its PID once /health answers.
start_service() {
  local port=$1; shift
  "$bin/hongbao-service" --port "$port" "$@" >"$work/service-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && { echo "$pid"; return 0; }; sleep 0.1; done
  fatal "hongbao-service on port $port did not start: $(tail -3 "$work/service-$port.log")"
}

local_port=$(free_port 18480)
local_pid=$(start_service "$local_port"); pids+=("$local_pid")
redis_port=$(free_port 6880)
redis_pid=$(start_redis "$redis_port" "$work/redis"); pids+=("$redis_pid")
redis_urls=()
for k in 0 1 2; do
  p=$(free_port $((local_port + 10 + k)))
  pid=$(start_service "$p" --redis "redis://127.0.0.1:$redis_port"); pids+=("$pid")
  redis_urls+=("http://127.0.0.1:$p")
  if ((k == 1)); then loaded_pid=$pid; fi
done
python3 "$HONGBAO_ROOT/scripts/sign-token.py" 1-500 >"$work/tokens.txt"
./make-packets.sh "http://127.0.0.1:$local_port" 200 >"$work/ids.txt"
./make-packets.sh "${redis_urls[0]}" 200 >"$work/redis-ids.txt"   # sent through one service, grabbed through another

python3 - "$rounds" "$seconds" "$work" "http://127.0.0.1:$local_port" "$local_pid" "${redis_urls[1]}" "$loaded_pid" \
  "$redis_pid" "$redis_port" "$HONGBAO_ROOT" <<'PY'
import hashlib, os, resource, statistics, subprocess, sys, time
rounds, seconds, work, local_url, local_pid, redis_url, redis_service_pid, redis_pid, redis_port, root = sys.argv[1:]
rounds, seconds = int(rounds), int(seconds)
hz = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    """The process's CPU time so far, in seconds (utime + stime)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz

def children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

def wrk(label, url, service, *script):
    """One wrk run; its requests/s and the µs of CPU a request cost the service, redis-server and wrk."""
    print(f"==> {label}", file=sys.stderr, flush=True)
    before = (cpu(service), cpu(redis_pid), children())
    done = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", *(["-s", "wrk-grab.lua"] if script else []),
                           url if script else url + "/health",
                           *(["--", *script] if script else [])], capture_output=True, text=True)
    after = (cpu(service), cpu(redis_pid), children())
    out = done.stdout
    if done.returncode != 0 or "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"error: wrk on {url} ({label}): answers that were not 2xx grab answers (exit {done.returncode}): "
                 f"{(out + done.stderr).strip()[-300:]}")
    requests = int(next(line for line in out.splitlines() if " requests in " in line).split()[0])
    rate = float(next(line for line in out.splitlines() if line.startswith("Requests/sec:")).split()[1])
    per = [(a - b) * 1e6 / requests for a, b in zip(after, before)]
    return {"rate": rate, "service": per[0], "redis": per[1], "wrk": per[2], "total": sum(per)}

grab_args = [f"{work}/ids.txt", "500", f"{work}/tokens.txt"]
redis_grab_args = [f"{work}/redis-ids.txt", "500", f"{work}/tokens.txt"]
rows = []
for r in range(1, rounds + 1):
    rows.append({
        "health": wrk(f"round {r}/{rounds}: in process, wrk /health", local_url, local_pid),
        "grab": wrk(f"round {r}/{rounds}: in process, wrk grab", local_url, local_pid, *grab_args),
        "rhealth": wrk(f"round {r}/{rounds}: on Redis, wrk /health", redis_url, redis_service_pid),
        "rgrab": wrk(f"round {r}/{rounds}: on Redis, wrk grab", redis_url, redis_service_pid, *redis_grab_args),
    })

def cli(*args):
    done = subprocess.run(["redis-cli", "-p", redis_port, *args], capture_output=True, text=True)
    if done.returncode != 0 or done.stdout.startswith("ERR"):
        sys.exit(f"error: redis-cli {' '.join(args)[:80]}: {(done.stdout + done.stderr).strip()[:300]}")
    return done.stdout

def script_alone(batch=200, calls=40):
    """redis-server's least CPU a grab: the grab script's own time (INFO commandstats) in calls of `batch` grabs, one
    a packet, on the packets wrk grabbed — no connection, no event loop, the per-call cost spread thin."""
    print(f"==> the grab script alone: {calls} calls of {batch} grabs through redis-cli", file=sys.stderr, flush=True)
    source = open(f"{root}/Sources/HongbaoRedis/GrabScript.swift").read()
    start = source.index('static let grab = """\n') + len('static let grab = """\n')
    text = "\n".join(line[8:] for line in source[start:source.index('\n        """', start)].split("\n"))
    sha = hashlib.sha1(text.encode()).hexdigest()
    if cli("SCRIPT", "EXISTS", sha).split() != ["1"]:
        sys.exit(f"error: the grab script read from GrabScript.swift (sha {sha}) is not the one the services loaded")
    packets = sorted(key for key in cli("--scan", "--pattern", "hb:*:p:*").split())[:batch]
    cli("CONFIG", "RESETSTAT")
    for call in range(calls):
        now = str(int(time.time() * 1000))
        keys = [k for p in packets for k in (p, p.replace(":p:", ":s:", 1))]
        grabs = [a for i in range(len(packets)) for a in ("1", "", str(1 + (call * len(packets) + i) % 500))]
        cli("EVALSHA", sha, str(len(keys)), *keys, now, *grabs)
    stats = next(line for line in cli("INFO", "commandstats").splitlines() if line.startswith("cmdstat_evalsha:"))
    usec = int(stats.split("usec=")[1].split(",")[0])
    return usec / (calls * len(packets)), len(packets)

alone, batch = script_alone()
print("µs of CPU a request (service, redis-server, wrk = total), each round:")
for r, row in enumerate(rows, 1):
    for what, name in (("health", "in process /health"), ("grab", "in process grab"), ("rhealth", "on Redis /health"),
                       ("rgrab", "on Redis grab")):
        m = row[what]
        print(f"  round {r} {name:19} {m['rate']:9,.0f}/s  {m['service']:6.1f} {m['redis']:5.1f} {m['wrk']:5.1f} = {m['total']:6.1f}")

def median(f):
    return statistics.median(f(row) for row in rows)
def rounds_of(f, fmt="{:.1f}"):
    return ", ".join(fmt.format(f(row)) for row in rows)

ratio = lambda row: row["rgrab"]["rate"] / row["rhealth"]["rate"]
local_ratio = lambda row: row["grab"]["rate"] / row["health"]["rate"]
budget = lambda row: 0.25 * row["rhealth"]["total"]
local_extra = lambda row: row["grab"]["total"] - row["health"]["total"]
server = lambda row: row["rgrab"]["redis"]
floor = lambda row: local_extra(row) + alone
client = lambda row: row["rgrab"]["service"] - row["grab"]["service"]
print("medians (each round's value in round order):")
print(f"  in process: grab / /health {median(local_ratio):.2f}x ({rounds_of(local_ratio, '{:.2f}')})")
print(f"  on Redis:   grab / /health {median(ratio):.2f}x ({rounds_of(ratio, '{:.2f}')})")
print(f"  budget for 0.8x on Redis: a grab's extras over /health <= {median(budget):.1f} µs ({rounds_of(budget)})")
print(f"  redis-server's CPU a grab under wrk: {median(server):.1f} µs ({rounds_of(server)}); the grab script alone, in "
      f"calls of {batch} grabs: {alone:.1f} µs")
print(f"  floor under any client of this script: the in-process grab's extras {median(local_extra):.1f} µs "
      f"({rounds_of(local_extra)}) + the script alone {alone:.1f} µs = {median(floor):.1f} µs ({rounds_of(floor)})")
print(f"  the Redis client's own cost (Redis-backed service's CPU a grab - in-process service's): {median(client):.1f} µs "
      f"({rounds_of(client)})")
ceiling = lambda row: row["rhealth"]["total"] / (row["rhealth"]["total"] + floor(row))
print(f"  ceiling: grab / /health with a Redis client that cost nothing {median(ceiling):.2f}x ({rounds_of(ceiling, '{:.2f}')})")
if median(ceiling) < 0.8:
    print(f"  verdict: 0.8x is out of reach on this machine for any client of this script (median ceiling "
          f"{median(ceiling):.2f}x)")
else:
    print(f"  verdict: 0.8x is within reach (median ceiling {median(ceiling):.2f}x): the Redis client's "
          f"{median(client):.1f} µs a grab is what stands in the way")
PY
