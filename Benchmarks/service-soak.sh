#!/usr/bin/env bash
# The example service as it runs for months: PACKETS packets, each sent to a group built afresh (1,000 memberships
# of 100 members), grabbed once and expired through HTTP (Examples/HongbaoService/wrk-cycle.lua, every answer
# checked), with a one-second retention and no member quota (this one client stores 12 M members a minute); the
# service's resident memory and the packets it holds sampled every 2 s. Prints the samples and a summary line:
# packets, seconds, cycles/s, resident MiB at 10 % of the run and at its peak after that.
# Usage: Benchmarks/service-soak.sh [PACKETS]   (default 1,000,000; long: a release build, then minutes of load)
# wrk's 8 threads each send PACKETS / 8 packets, one connection each.
source "$(dirname "$0")/../scripts/lib.sh"
packets=${1:-1000000}
cd "$HONGBAO_ROOT/Examples/HongbaoService"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
pids=()
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT
port=$(free_port 18280)
env -u HONGBAO_JWT_SECRET "$bin/hongbao-service" --port "$port" --insecure-dev --retention 1 --sweep-interval 1 --member-quota 0 \
  >"$work/service.log" 2>&1 &   # wrk-cycle.lua sends no tokens
service=$!
pids+=("$service")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || fatal "hongbao-service did not start: $(tail -3 "$work/service.log")"

rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$service/status"; }
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
start=$(date +%s.%N)
threads=8   # one connection each (the script needs answers in order); 8 packets in flight
wrk -t$threads -c$threads -d3600s -s wrk-cycle.lua "http://127.0.0.1:$port" -- $((packets / threads)) >"$work/wrk.out" 2>&1 &
load=$!
pids+=("$load")
warm="" peak=0
while kill -0 "$load" 2>/dev/null; do
  sleep 2
  now=$(rss); count=$(metric hongbao_packets_sent_total); held=$(metric hongbao_packets_held)
  log "$(printf '%9s packets sent, %7s held, resident %4s MiB' "${count:-0}" "${held:-?}" "$now")"
  if [[ -z $warm && ${count:-0} -ge $((packets / 10)) ]]; then warm=$now; fi
  if [[ -n $warm ]] && ((now > peak)); then peak=$now; fi
  # wrk runs for its whole -d even when every thread has stopped: once all packets are sent and a sweep has
  # seen them go, SIGINT ends it with its summary (and the script's check of every answer).
  if ((${count:-0} >= packets - threads)) && [[ ${held%.*} -le $((packets / 100)) ]]; then kill -INT "$load" 2>/dev/null || true; fi
done
wait "$load" || fatal "wrk-cycle.lua: $(tail -2 "$work/wrk.out")"
seconds=$(echo "$(date +%s.%N) - $start" | bc)
grep 'checked answers' "$work/wrk.out"
echo "service-soak,$packets,$(printf %.1f "$seconds"),$(echo "$packets / $seconds" | bc),rss_warm_mib=$warm,rss_peak_after_warm_mib=$peak"
