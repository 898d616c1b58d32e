#!/usr/bin/env bash
# Many load generators, one run (issue 10): three `bench --shard K/3` processes against a 3-master Redis Cluster,
# meeting through Redis under one run id; then `hongbao merge` into one run. Passes if every shard's verdict and
# the merged verdict pass and the merged grab count is the sum of the shards'.
# As root (with `ip netns`), each shard runs on a host of its own: a network namespace with a veth on a bridge,
# the cluster listening on the bridge's address. Otherwise the shards share loopback. Stops everything it started.
#   scripts/shards-test.sh [BIN_DIR]
source "$(dirname "$0")/lib.sh"
cd "$HONGBAO_ROOT"

bin=${1:-}
if [[ -z $bin ]]; then
  swift build --product bench >/dev/null && swift build --product hongbao >/dev/null
  bin=$(swift build --show-bin-path)
fi
work=$(mktemp -d /tmp/hongbao-shards.XXXXXX)
hosts=()
cleanup() {
  "$HONGBAO_ROOT/scripts/redis-cluster.sh" stop "$work/cluster" || true
  local ns
  for ns in "${hosts[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ((${#hosts[@]})) && ip link del hb-br0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

host=127.0.0.1
if [[ $(id -u) == 0 ]] && ip netns add "hb-probe-$$" 2>/dev/null; then
  ip netns del "hb-probe-$$"
  # A bridge for the cluster's "host" and one namespace per load generator, each on a veth of the bridge.
  host=10.77.0.1
  ip link add hb-br0 type bridge
  ip addr add "$host/24" dev hb-br0
  ip link set hb-br0 up
  for k in 1 2 3; do
    ns="hb-shard$k-$$"
    hosts+=("$ns")
    ip netns add "$ns"
    ip link add "hb-v$k" type veth peer name eth0 netns "$ns"
    ip link set "hb-v$k" master hb-br0 up
    ip -n "$ns" addr add "10.77.0.1$k/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  log "three hosts: network namespaces ${hosts[*]} on bridge hb-br0 ($host)"
else
  log "not root (or no ip netns): the shards share loopback"
fi

seeds=$(HONGBAO_CLUSTER_HOST=$host "$HONGBAO_ROOT/scripts/redis-cluster.sh" start 7401 "$work/cluster")
log "cluster on $seeds"
run_id="ci-$$-$(date +%s)"
pids=()
for k in 1 2 3; do
  prefix=()
  ((${#hosts[@]})) && prefix=(ip netns exec "${hosts[$((k - 1))]}")
  "${prefix[@]}" "$bin/bench" --redis "$seeds" --shard "$k/3" --run-id "$run_id" --members 60000 --packets 9000 \
    --threads 2 --db "$work/shard$k.db" --json --quiet >"$work/shard$k.json" 2>"$work/shard$k.err" &
  pids+=($!)
done
for k in 1 2 3; do
  wait "${pids[$((k - 1))]}" || { cat "$work/shard$k.err" >&2; fatal "shard $k/3 failed"; }
done
"$bin/hongbao" merge "$work/merged.db" "$work/shard1.db" "$work/shard2.db" "$work/shard3.db" | tee "$work/merge.txt"
python3 - "$work" <<'PY'
import json, re, sqlite3, sys
work = sys.argv[1]
shards = [json.load(open(f"{work}/shard{k}.json"))["runs"][0] for k in (1, 2, 3)]
for k, run in enumerate(shards, 1):
    if run["verdict"]["lost_grants"] or run["verdict"]["paid_twice"] or run["verdict"]["unbalanced"]:
        sys.exit(f"shard {k}/3: verdict {run['verdict']}")
told = sum(run["grabs"] for run in shards)
stored = sum(run["verdict"]["grabs"] for run in shards)
db = sqlite3.connect(f"{work}/merged.db")
merged_grabs, verdict = db.execute("SELECT grabs, verdict FROM runs ORDER BY id DESC LIMIT 1").fetchone()
rows = db.execute("SELECT COUNT(*) FROM grabs WHERE run_id = (SELECT MAX(id) FROM runs)").fetchone()[0]
print(f"shards told {told} grants; merged run: {merged_grabs} grabs, {rows} grab rows, verdict {verdict}")
if verdict != "pass": sys.exit("the merged verdict failed")
if merged_grabs != told or rows != told or stored != told:
    sys.exit(f"the merged grab count {merged_grabs} (rows {rows}, records {stored}) is not the shards' sum {told}")
PY
# A merge of two of the three shards is refused; a shard file that lost a grab row fails the merged verdict.
if "$bin/hongbao" merge "$work/partial.db" "$work/shard1.db" "$work/shard2.db" 2>"$work/partial.err"; then
  fatal "merging 2 of 3 shards was accepted"
fi
grep -q "missing 3/3" "$work/partial.err" || fatal "merging 2 of 3 shards: unexpected error $(cat "$work/partial.err")"
cp "$work/shard2.db" "$work/tampered.db"
sqlite3 "$work/tampered.db" "DELETE FROM grabs WHERE rowid = (SELECT MIN(rowid) FROM grabs)"
status=0
"$bin/hongbao" merge "$work/tampered-merge.db" "$work/shard1.db" "$work/tampered.db" "$work/shard3.db" >"$work/tampered.txt" || status=$?
((status == 2)) && grep -q "differ from their grabbed shares" "$work/tampered.txt" \
  || fatal "a lost grab row was not caught by the merge (exit $status): $(cat "$work/tampered.txt")"
# Merging the same run into the same file again is refused (it would add a second copy of the run).
if "$bin/hongbao" merge "$work/merged.db" "$work/shard1.db" "$work/shard2.db" "$work/shard3.db" 2>"$work/again.err"; then
  fatal "a run was merged twice into one file"
fi
grep -q "holds a merged run of" "$work/again.err" || fatal "merging twice: unexpected error $(cat "$work/again.err")"
# A merged file is not a shard's file: refused with a line that says so.
if "$bin/hongbao" merge "$work/remerge.db" "$work/merged.db" "$work/shard2.db" "$work/shard3.db" 2>"$work/remerge.err"; then
  fatal "a merged file was merged again"
fi
grep -q "holds merged runs" "$work/remerge.err" || fatal "merging a merged file: unexpected error $(cat "$work/remerge.err")"
# A shard file whose workload options differ from the others' is refused by the merge.
cp "$work/shard3.db" "$work/other-workload.db"
sqlite3 "$work/other-workload.db" "UPDATE runs SET config_json = replace(config_json, 'seed=', 'seed=9') WHERE id = (SELECT MAX(id) FROM runs)"
if "$bin/hongbao" merge "$work/other-merge.db" "$work/shard1.db" "$work/shard2.db" "$work/other-workload.db" 2>"$work/other.err"; then
  fatal "shards of different workloads were merged"
fi
grep -q "other workload options" "$work/other.err" || fatal "a merge of different workloads: unexpected error $(cat "$work/other.err")"

# A run id is used once: a shard of another N, or a shard index already claimed, is refused at once, before it sends.
for claim in 3/3 2/4; do
  if "$bin/bench" --redis "$seeds" --shard "$claim" --run-id "$run_id" --members 60000 --packets 9000 --db "$work/reuse.db" \
    --quiet 2>"$work/reuse.err"; then
    fatal "--shard $claim --run-id $run_id (a finished run) was accepted"
  fi
  grep -q "a run id is used once" "$work/reuse.err" || fatal "a reused run id: unexpected error $(cat "$work/reuse.err")"
done
# Shards started with different workload options are refused before anything is sent, and a shard whose
# partners never come gives up after --shard-timeout, naming them.
fresh="$run_id-b"
"$bin/bench" --redis "$seeds" --shard 1/2 --run-id "$fresh" --members 6000 --packets 500 --db "$work/lonely.db" \
  --shard-timeout 2 --quiet 2>"$work/lonely.err" && fatal "a shard without its partner passed"
grep -q "shards 2/2 did not reach" "$work/lonely.err" || fatal "a lonely shard: unexpected error $(cat "$work/lonely.err")"
if "$bin/bench" --redis "$seeds" --shard 2/2 --run-id "$fresh" --members 6000 --packets 500 --seed 7 --db "$work/other.db" \
  --shard-timeout 2 --quiet 2>"$work/other-seed.err"; then
  fatal "a shard with another --seed joined the run"
fi
grep -q "other workload options" "$work/other-seed.err" || fatal "another --seed: unexpected error $(cat "$work/other-seed.err")"
log "shards test passed (and a partial, tampered or mixed merge, a reused run id, mixed options and a lonely shard are refused)"
