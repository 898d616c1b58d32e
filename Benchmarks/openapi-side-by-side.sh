#!/usr/bin/env bash
# The grab endpoint hand-written (Examples/HongbaoService, as shipped) beside the same endpoint generated from
# openapi.yaml by swift-openapi-generator and served by swift-openapi-hummingbird (Benchmarks/OpenAPIGrab): both on
# the lock-free engine, without tokens (--insecure-dev: what routing and the body's codec cost, nothing else), release
# builds, the same wrk scripts and connection count, one after the other, ROUNDS times.
#   wrk GET /health and wrk POST /packets/{id}/grab (Examples/HongbaoService/wrk-grab.lua: every answer checked)
# Usage: Benchmarks/openapi-side-by-side.sh [CONNECTIONS] [SECONDS] [ROUNDS]   (defaults 64, 10, 2)
source "$(dirname "$0")/../scripts/lib.sh"
connections=${1:-64}
seconds=${2:-10}
rounds=${3:-2}
unset HONGBAO_JWT_SECRET
service_dir="$HONGBAO_ROOT/Examples/HongbaoService"
# The generator's copy of the spec: the example's, less the seed's `maximum: 18446744073709551615` (2^64 - 1), which
# OpenAPIKit refuses ("Expected an Integer literal but found a floating point value"): it reads integer bounds as
# Int. Refreshed here so that it never drifts from the spec the service is tested against.
sed 's/, maximum: 18446744073709551615, description: makes/, description: makes/' "$service_dir/openapi.yaml" \
  >"$HONGBAO_ROOT/Benchmarks/OpenAPIGrab/Sources/OpenAPIGrab/openapi.yaml"
(cd "$service_dir" && swift build -c release --product hongbao-service >/dev/null) || fatal "the example service did not build"
(cd "$HONGBAO_ROOT/Benchmarks/OpenAPIGrab" && swift build -c release >/dev/null) || fatal "OpenAPIGrab did not build"
hand="$(cd "$service_dir" && swift build -c release --show-bin-path)/hongbao-service"
generated="$(cd "$HONGBAO_ROOT/Benchmarks/OpenAPIGrab" && swift build -c release --show-bin-path)/OpenAPIGrab"
work=$(mktemp -d)
pids=()
trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT

wrk_rps() {   # as in service-side-by-side.sh: a figure only if every answer was a checked 2xx
  local out status=0
  out=$(wrk "$@") || status=$?
  if ((status != 0)) || grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
    fatal "wrk $*: answers that were not 2xx (exit $status): $(grep -E 'Non-2xx|Socket errors|checked answers' <<<"$out")"
  fi
  grep 'Requests/sec' <<<"$out" | awk '{print $2}'
}

measure() {   # measure NAME COMMAND…: starts the service, creates 200 packets, prints "NAME health grab"
  local name=$1; shift
  local port; port=$(free_port 18280)
  "$@" "$port" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || fatal "$name did not start: $(tail -3 "$work/$name.log")"
  (cd "$service_dir" && ./make-packets.sh "http://127.0.0.1:$port" 200 >"$work/$name-ids.txt")
  local health grab
  health=$(wrk_rps -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/health")
  grab=$(cd "$service_dir" && wrk_rps -t2 -c"$connections" -d"${seconds}s" -s wrk-grab.lua "http://127.0.0.1:$port" -- "$work/$name-ids.txt" 500)
  stop_pids "${pids[@]}"; pids=()
  echo "$name $health $grab"
}
hand_service() { exec "$hand" --insecure-dev --port "$1"; }   # exec: the PID stopped is the server's
generated_service() { exec "$generated" "$1"; }

for round in $(seq "$rounds"); do
  measure hand-written hand_service
  measure generated generated_service
done | python3 -c '
import sys
rows = [line.split() for line in sys.stdin if line.strip()]
print("| round | hand-written: /health, grab (requests/s) | generated: /health, grab | generated ÷ hand-written, grab | grab ÷ /health, hand-written, generated |")
print("|---|---|---|---|---|")
for k in range(0, len(rows) - 1, 2):
    (_, hh, hg), (_, gh, gg) = rows[k], rows[k + 1]
    hh, hg, gh, gg = map(float, (hh, hg, gh, gg))
    print(f"| {k // 2 + 1} | {hh:,.0f}, {hg:,.0f} | {gh:,.0f}, {gg:,.0f} | {gg / hg:.2f}× | {hg / hh:.2f}×, {gg / gh:.2f}× |")
'
