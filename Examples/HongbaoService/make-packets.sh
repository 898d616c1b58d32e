#!/usr/bin/env bash
# Creates packets for wrk-grab.lua: COUNT packets of 100 shares (¥1,000 each) to members 1..500 on the service at
# URL, and prints their ids, one a line (as the service wrote them: 64-bit integers, kept as text). With
# HONGBAO_JWT_SECRET set, member 1 sends them with its bearer token (a service that checks tokens).
# Usage: ./make-packets.sh URL COUNT > ids.txt
set -euo pipefail
url=${1:?usage: make-packets.sh URL COUNT}
count=${2:?usage: make-packets.sh URL COUNT}
members=$(seq -s, 1 500)
auth=()
if [[ -n ${HONGBAO_JWT_SECRET:-} ]]; then
  auth=(-H "Authorization: Bearer $(python3 "$(dirname "$0")/../../scripts/sign-token.py" 1)")
fi
for _ in $(seq "$count"); do
  answer=$(curl -sS --fail-with-body -X POST "$url/packets" -H 'content-type: application/json' "${auth[@]}" \
    -d "{\"total_fen\": 100000, \"shares\": 100, \"members\": [$members]}") || { echo "make-packets: $answer" >&2; exit 1; }
  id=$(grep -oE '"id" *: *[0-9]+' <<<"$answer" | grep -oE '[0-9]+$') || { echo "make-packets: no id in $answer" >&2; exit 1; }
  echo "$id"
done
