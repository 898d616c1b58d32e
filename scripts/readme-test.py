#!/usr/bin/env python3
"""The README is run, not just read (issue 23).

Every command line in the bash blocks of README.md and Benchmarks/README.md is listed below with how CI runs it:
as written, or as its twin — the same command with small sizes, the ports this test was given and the debug
binaries the test command built — and the exit it must give. A long benchmark (release builds, minutes of load)
is marked long in the README and here, and names the twins that run its steps. A README command missing here, or
an entry here that no README has any more, fails the test: the two cannot drift apart.

Usage: scripts/readme-test.py BIN_DIR SERVICE_BIN_DIR   (HONGBAO_REDIS_URL: a redis-server to use)
"""
import os, re, shlex, socket, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bin_dir, service_bin = sys.argv[1], sys.argv[2]
redis = os.environ.get("HONGBAO_REDIS_URL") or sys.exit("readme-test: HONGBAO_REDIS_URL is not set")
work = tempfile.mkdtemp(prefix="hongbao-readme.")
os.chdir(work)   # a scratch folder: every file a command writes lands here
background, clusters, failures = [], [], []


def free_port(start):
    port = start
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
        port += 1


def sh(command, expect=0, stdin=None, timeout=600):
    """Runs a shell command in the scratch folder; returns its stdout; records a failure if its exit is not `expect`."""
    started = time.time()
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, input=stdin, timeout=timeout,
                          env=dict(os.environ, HONGBAO_ROOT=root))
    took = time.time() - started
    ok = done.returncode == expect
    print(f"  {'ok  ' if ok else 'FAIL'} exit {done.returncode} (expected {expect}), {took:.1f} s: {command[:150]}", flush=True)
    if not ok:
        failures.append(f"{command}: exit {done.returncode}, expected {expect}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def start(command, health):
    """Starts a server in the background and waits until `health` (a URL) answers."""
    process = subprocess.Popen(["bash", "-c", "exec " + command], stdout=subprocess.DEVNULL, stderr=open(f"{work}/bg.log", "a"))
    background.append(process)
    for _ in range(200):
        if subprocess.run(["curl", "-sf", "--max-time", "1", health], capture_output=True).returncode == 0:
            print(f"  ok   started: {command}", flush=True)
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    failures.append(f"{command}: did not answer {health}")


B, S, R = bin_dir, service_bin, root
tiny = "--members 3000 --packets 300 --threads 2 --quiet"
cluster_port, ha_port = free_port(7801), free_port(7851)
services = [free_port(18301 + 10 * k) for k in range(4)]
state = {}


def cluster(port, folder, *extra):
    seeds = sh(f"{R}/scripts/redis-cluster.sh start {port} {folder} {' '.join(extra)}").strip()
    clusters.append(folder)
    return seeds


def shards():
    run_id = f"readme-{os.getpid()}-{int(time.time())}"
    jobs = [subprocess.Popen(["bash", "-c", f"{B}/bench --redis {state['ha']} --shard {k}/2 --run-id {run_id} "
                              f"--members 6000 --packets 600 --quiet --db shard-{k}.db"]) for k in (1, 2)]
    codes = [job.wait(timeout=600) for job in jobs]
    print(f"  {'ok  ' if codes == [0, 0] else 'FAIL'} two shards of run {run_id}: exits {codes}", flush=True)
    if codes != [0, 0]:
        failures.append(f"bench --shard K/2: exits {codes}")


# README command (as written, less its comment) → what CI runs. Each value is a list of steps (callables) run in
# README order; LONG marks a command CI does not run as written, with the reason.
LONG = "long"
twins = {
    # README.md
    "scripts/bench": [lambda: sh(f"{B}/bench {tiny} --db hongbao.db")],   # the same session, debug build, small
    "scripts/test": "the test command itself: this test is one of its steps",
    "scripts/redis-cluster.sh start 7101 /tmp/hb-cluster":
        [lambda: state.__setitem__("cluster", cluster(cluster_port, f"{work}/hb-cluster"))],
    'swift run -c release bench --redis "$(…that line…)" --threads 4':
        [lambda: sh(f"{B}/bench --redis {state['cluster']} --threads 4 --members 3000 --packets 300 --quiet --db cluster.db")],
    "scripts/redis-cluster.sh stop /tmp/hb-cluster": [lambda: sh(f"{R}/scripts/redis-cluster.sh stop {work}/hb-cluster")],
    "scripts/redis-cluster.sh start 7101 /tmp/hb-ha 1 1000":
        [lambda: state.__setitem__("ha", cluster(ha_port, f"{work}/hb-ha", "1", "1000"))],
    "swift run -c release bench --redis \"$SEEDS\" --shard K/N --run-id festival-42 --db shard-K.db": [shards],
    "swift run -c release hongbao merge merged.db shard-1.db shard-2.db shard-3.db":
        [lambda: sh(f"{B}/hongbao merge merged.db shard-1.db shard-2.db")],
    "swift run -c release hongbao report hongbao.db": [lambda: sh(f"{B}/hongbao report hongbao.db")],
    "swift run -c release hongbao report hongbao.db --run 3 --run 4 --html report.html":
        [lambda: sh(f"{B}/hongbao report hongbao.db --run 3 --run 4 --html report.html"),
         lambda: sh("grep -q '<svg' report.html")],
    "redis-server --port 6379 --save '' --appendonly no --daemonize yes":
        [lambda: sh(f"redis-server --port {state.setdefault('redis', free_port(6901))} --save '' --appendonly no --daemonize yes "
                    f"--dir {work} --logfile {work}/redis-6379.log"),
         lambda: sh(f"for i in $(seq 50); do redis-cli -p {state['redis']} ping && exit 0; sleep 0.1; done; exit 1"),
         lambda: sh(f"redis-cli -p {state['redis']} shutdown nosave; true")],
    "cd Examples/HongbaoService": [],   # the lines below name the example's files from its folder
    "export HONGBAO_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')":
        [lambda: os.environ.update(HONGBAO_JWT_SECRET=sh("python3 -c 'import secrets; print(secrets.token_hex(32))'").strip())],
    "swift run -c release hongbao-service --port 8085 --insecure-dev":
        [lambda: start(f"env -u HONGBAO_JWT_SECRET {S}/hongbao-service --port {state.setdefault('insecure', free_port(18395))} --insecure-dev",
                       f"http://127.0.0.1:{state['insecure']}/health")],
    "swift run -c release hongbao-service --port 8080":
        [lambda: start(f"{S}/hongbao-service --port {services[0]}", f"http://127.0.0.1:{services[0]}/health")],
    "swift run -c release hongbao-service --port 8081 --redis redis://127.0.0.1:6379":
        [lambda port=port: start(f"{S}/hongbao-service --port {port} --redis {redis}", f"http://127.0.0.1:{port}/health")
         for port in services[1:]],
    "swift run -c release bench-http --http http://127.0.0.1:8080 --members 200000 --packets 20000":
        [lambda: sh(f"{S}/bench-http --http http://127.0.0.1:{services[0]} --members 20000 --packets 400 --quiet --db http.db")],
    "swift run -c release bench-http --http http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083":
        [lambda: sh(f"{S}/bench-http --http " + ",".join(f"http://127.0.0.1:{p}" for p in services[1:])
                    + " --members 20000 --packets 400 --quiet --db http.db")],
    "swift run -c release hongbao-service --port 8084 --journal packets.journal":
        [lambda: start(f"{S}/hongbao-service --port {state.setdefault('journaled', free_port(18391))} --journal packets.journal",
                       f"http://127.0.0.1:{state['journaled']}/health")],
    "./make-packets.sh http://127.0.0.1:8085 200 > ids.txt":
        [lambda: sh(f"{R}/Examples/HongbaoService/make-packets.sh http://127.0.0.1:{state['insecure']} 20 > ids.txt")],
    "wrk -t2 -c64 -d10s -s wrk-grab.lua http://127.0.0.1:8085 -- ids.txt 500":
        [lambda: sh(f"wrk -t1 -c4 -d1s -s {R}/Examples/HongbaoService/wrk-grab.lua http://127.0.0.1:{state['insecure']} -- ids.txt 500")],
    "wrk -t2 -c2 -d10s -s wrk-cycle.lua http://127.0.0.1:8085 -- 1000":
        [lambda: sh(f"wrk -t1 -c1 -d3s -s {R}/Examples/HongbaoService/wrk-cycle.lua http://127.0.0.1:{state['insecure']} -- 20")],
    "../../Benchmarks/service-side-by-side.sh":
        (LONG, "release builds of the example and minutes of load; its steps run above as the hongbao-service, "
               "bench-http, make-packets.sh and wrk twins"),
    "../../Benchmarks/service-cpu-budget.sh":
        (LONG, "as `Benchmarks/service-cpu-budget.sh 3 10` below"),
    "Benchmarks/service-cpu-budget.sh 3 10":
        (LONG, "a release build of the example and two minutes of wrk; its steps run above as the hongbao-service, "
               "make-packets.sh and wrk twins"),
    "Benchmarks/openapi-side-by-side.sh 64 10 3":
        (LONG, "release builds of the example and of swift-openapi-generator's plugin (minutes), then minutes of load; "
               "the hand-written side's steps run above as the hongbao-service, make-packets.sh and wrk twins"),
    "swift run -c release hongbao-classroom": [lambda: sh(f"{B}/hongbao-classroom")],
    "swift run -c release hongbao-classroom --lesson 2 --step --redis redis://127.0.0.1:6379":
        [lambda: sh(f"{B}/hongbao-classroom --lesson 2 --step --redis {redis}", stdin="\n" * 50)],
    "cd Benchmarks && swift package benchmark --no-progress":
        (LONG, "builds the micro-benchmark package in release (ordo-one/benchmark, jemalloc) and runs for minutes; "
               "the engines it measures are the ones every test here runs"),
    # Benchmarks/README.md, "How to reproduce"
    "Benchmarks/limits/run.sh": [lambda: sh(f"GRABS=200000 ROWS=20000 CALLS=4000 WAKEUPS=20000 RUNS=1 {R}/Benchmarks/limits/run.sh")],
    "(cd Benchmarks && swift package benchmark --no-progress)":
        (LONG, "as the README's `cd Benchmarks && swift package benchmark` above"),
    "swift run -c release bench --engine lock-free mutex null":
        [lambda: sh(f"{B}/bench --engine lock-free mutex null {tiny} --db festival.db")],
    "swift run -c release bench --scenario hot --packets 20000":
        [lambda: sh(f"{B}/bench --scenario hot --members 3000 --packets 200 --threads 2 --quiet --db hot.db")],
    "/usr/bin/time -v swift run -c release bench --members 10000000 --packets 1000000 --engine lock-free":
        [lambda: sh(f"/usr/bin/time -v {B}/bench --members 30000 --packets 3000 --engine lock-free --quiet --db big.db")],
    "swift run -c release bench --engine journaled --in-flight 1024":
        [lambda: sh(f"{B}/bench --engine journaled --in-flight 64 {tiny} --db journaled.db")],
    "swift run -c release bench --engine journaled --journal-batch 64 --threads 16":
        [lambda: sh(f"{B}/bench --engine journaled --journal-batch 16 --threads 4 --members 3000 --packets 300 --quiet --db batched.db")],
    "Benchmarks/journal-side-by-side.sh":
        (LONG, "a release build and six festival runs (one against a redis-server with appendfsync always); its "
               "journaled step runs above as the twin of `bench --engine journaled`"),
    "Benchmarks/redis-festival.sh":
        (LONG, "a release build and redis-benchmark for a minute; its bench --redis step runs above as the twin of "
               "`bench --redis`"),
    "Benchmarks/redis-side-by-side.sh 200000":
        (LONG, "builds the Benchmarks package in release; the Redis engine's modes are the Redis tests' subject"),
    "Benchmarks/cluster-side-by-side.sh":
        (LONG, "release builds and three clusters for minutes; its shards and durable steps run above as twins"),
    "Benchmarks/durable-stall.sh":
        (LONG, "a release build and two clusters; scripts/test runs its fault (a master killed mid-run, durable) in "
               "scripts/failover-test.sh and scripts/partition-test.sh"),
    "(cd Benchmarks && swift run -c release Soak 50000000 100000 shared)":
        (LONG, "builds the Benchmarks package in release and runs a minute; its subject — memory flat under a steady "
               "send, grab, expire — is ReclamationTests.memoryStaysFlatUnderASteadyLoad"),
    "Benchmarks/service-soak.sh 1000000":
        (LONG, "a release build of the example and minutes of load; its load script runs above as the wrk-cycle.lua twin"),
    'scripts/failover-test.sh "$(swift build -c release --show-bin-path)/bench"':
        (LONG, "a release build; scripts/test runs scripts/failover-test.sh itself with the debug bench"),
}

# The commands the READMEs hold, in order.
commands = []
for path in ("README.md", "Benchmarks/README.md"):
    for language, body in re.findall(r"```(\w*)\n(.*?)```", open(os.path.join(root, path)).read(), re.S):
        if language not in ("bash", "sh"):
            continue
        for line in body.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append((path, command))

listed = {command for _, command in commands}
for path, command in commands:
    if command not in twins:
        failures.append(f"{path}: `{command}` is run by nothing: give it a twin in scripts/readme-test.py")
for command in twins:
    if command not in listed:
        failures.append(f"scripts/readme-test.py has `{command}`, which no README holds any more")

long_in_readme = open(os.path.join(root, "README.md")).read() + open(os.path.join(root, "Benchmarks/README.md")).read()
try:
    for path, command in commands:
        plan = twins.get(command)
        print(f"{path}: {command}", flush=True)
        if isinstance(plan, str):
            print(f"  --   {plan}")
        elif isinstance(plan, tuple):
            print(f"  --   long, not run as written: {plan[1]}")
            line = next(l for l in long_in_readme.splitlines() if command in l)
            if "long" not in line:
                failures.append(f"{path}: `{command}` is long and its line does not say so")
        elif plan is not None:
            for step in plan:
                step()
finally:
    for process in background:
        process.terminate()
    for process in background:
        process.wait()
    for folder in clusters:
        subprocess.run([f"{R}/scripts/redis-cluster.sh", "stop", folder], capture_output=True)

if failures:
    print(f"readme test: {len(failures)} failed", file=sys.stderr)
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    sys.exit(1)
print(f"readme test: every README command ran as documented ({len(commands)} lines)")
