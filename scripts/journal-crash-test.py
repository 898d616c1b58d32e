#!/usr/bin/env python3
"""A crash loses nothing acknowledged (issue 20): hongbao-service with --journal is killed with SIGKILL at random
moments under concurrent load, several times, and restarted on its journal each time.

Clients (threads, keep-alive connections) send packets, grab and expire them, and log every answer they receive
(an acknowledgement). After each restart every packet is read back and checked against everything acknowledged
before the kill: every acknowledged send is there with its total; every acknowledged grant is there with the same
amount and seq; every acknowledged refund with the same amount; no member holds two shares; paid + balance = total;
seqs are 1..n. A call in flight at the kill may or may not have happened, but never half and never twice — which
the same checks catch (a half grant breaks conservation, a twice-paid member shows twice).

With --full-disk (as root): the journal on a 2 MB tmpfs; packets are sent until the disk is full. The call that
finds it full and every call after it must fail with 503 and say why ("disk full"), none acknowledged; the
tmpfs is then grown, the service restarted on the same journal, and every packet acknowledged before is there.

A second service opening a journal the first has open must refuse with one line and a non-zero exit.

Usage: scripts/journal-crash-test.py SERVICE_BIN WORK_DIR [--kills N] [--seed S] [--full-disk]
"""
import argparse, http.client, json, os, random, signal, socket, subprocess, sys, threading, time

running = []   # the services started and not yet stopped: a failure stops them before it exits

def fail(message):
    """Ends the test from any thread (a client's too): stops the services it started, then exits 1."""
    print(f"journal-crash-test: FAIL: {message}", file=sys.stderr, flush=True)
    for process in list(running):
        if process.poll() is None:
            process.kill()
            process.wait()
    sys.stdout.flush()
    os._exit(1)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

class Service:
    def __init__(self, binary, journal, log, extra):
        self.binary, self.journal, self.log, self.extra = binary, journal, log, extra
        self.process = None

    def start(self):
        self.port = free_port()
        # The journal is under test here, not the tokens: the service runs without them (--insecure-dev).
        env = {k: v for k, v in os.environ.items() if k != "HONGBAO_JWT_SECRET"}
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--journal", self.journal, "--insecure-dev"]
                                        + self.extra, stdout=open(self.log, "a"), stderr=subprocess.STDOUT, env=env)
        running.append(self.process)
        for _ in range(200):
            if self.process.poll() is not None:
                fail(f"hongbao-service exited on start: {open(self.log).read()[-400:]}")
            try:
                status, _ = request(self.port, "GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        fail("hongbao-service did not answer within 10 s")

    def kill(self, how=signal.SIGKILL):
        self.process.send_signal(how)
        code = self.process.wait()
        running.remove(self.process)
        if how == signal.SIGTERM:
            # A graceful stop: requests in flight drained, the journal closed (its pending writes made), exit 0.
            log = open(self.log).read()
            if code != 0 or "stopped" not in log.splitlines()[-1]:
                fail(f"SIGTERM: exit {code}, last log line: {log.splitlines()[-1] if log else ''}")

def request(port, method, path, body=None, connection=None, headers=None, replayed=None):
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        if replayed is not None:
            replayed.append(response.getheader("Idempotent-Replayed") == "true")
        return response.status, json.loads(response.read() or b"null")
    finally:
        if own:
            connection.close()

class Ledger:
    """Everything the clients were told, by packet."""
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}      # id -> total
        self.grants = {}    # (id, member) -> (amount, seq)
        self.refunds = {}   # id -> amount
        self.keyed = {}     # Idempotency-Key -> (body, id): every send carries a key

    def grant(self, packet, member, amount, seq):
        with self.lock:
            previous = self.grants.setdefault((packet, member), (amount, seq))
            if previous != (amount, seq):
                fail(f"packet {packet}: member {member} told {previous} and then {(amount, seq)}")

    def refund(self, packet, amount):
        with self.lock:
            previous = self.refunds.setdefault(packet, amount)
            if previous != amount:
                fail(f"packet {packet}: refund told {previous} and then {amount}")

def client(port, ledger, stop, seed, members):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        while not stop.is_set():
            with ledger.lock:
                packets = list(ledger.sent)
            choice = rng.random()
            if choice < 0.05 or not packets:
                total, shares = rng.randint(500, 20000), rng.randint(1, 40)
                sent = {"total_fen": total, "shares": shares, "members": members, "seed": rng.getrandbits(48)}
                key = f"send-{rng.getrandbits(64):016x}"
                status, body = request(port, "POST", "/packets", sent, connection, headers={"Idempotency-Key": key})
                if status != 201:
                    fail(f"send answered {status}: {body}")
                with ledger.lock:
                    ledger.sent[body["id"]] = total
                    ledger.keyed[key] = (sent, body["id"])
            elif choice < 0.08:
                packet = rng.choice(packets)
                status, body = request(port, "POST", f"/packets/{packet}/expire", {}, connection)
                if status != 200:
                    fail(f"expire of {packet} answered {status}: {body}")
                ledger.refund(packet, body["refund_fen"])
            else:
                packet, member = rng.choice(packets), rng.choice(members)
                status, body = request(port, "POST", f"/packets/{packet}/grab", {"member": member}, connection)
                if status != 200:
                    fail(f"grab of {packet} by {member} answered {status}: {body}")
                if body["outcome"] in ("granted", "already_grabbed"):
                    ledger.grant(packet, member, body["amount_fen"], body["seq"])
    except (OSError, http.client.HTTPException):
        pass   # the service was killed: this call was in flight, not acknowledged
    finally:
        connection.close()

def check(port, ledger, members):
    with ledger.lock:
        sent, grants, refunds, keyed = dict(ledger.sent), dict(ledger.grants), dict(ledger.refunds), dict(ledger.keyed)
    # A send retried with its key after the restart gets the packet it made, told it is a replay; never a second.
    for key, (body, packet) in list(keyed.items())[-40:]:
        replayed = []
        status, answer = request(port, "POST", "/packets", body, headers={"Idempotency-Key": key}, replayed=replayed)
        if status != 201 or answer.get("id") != packet or replayed != [True]:
            fail(f"send retried with key {key} after the restart: {status} {answer}, replayed {replayed}; it made {packet}")
    checked = 0
    for packet, total in sent.items():
        status, account = request(port, "GET", f"/packets/{packet}")
        if status != 200:
            fail(f"acknowledged packet {packet} is gone after the restart: {status} {account}")
        if account["total_fen"] != total:
            fail(f"packet {packet}: total {account['total_fen']}, acknowledged {total}")
        grabs = account["grabs"]
        winners = [g["member"] for g in grabs]
        if len(set(winners)) != len(winners):
            fail(f"packet {packet}: a member holds two shares: {winners}")
        if [g["seq"] for g in grabs] != list(range(1, len(grabs) + 1)):
            fail(f"packet {packet}: seqs {[g['seq'] for g in grabs]}")
        if len(grabs) > account["shares"]:
            fail(f"packet {packet}: {len(grabs)} grabs of {account['shares']} shares")
        if sum(g["amount_fen"] for g in grabs) + account["balance_fen"] != total:
            fail(f"packet {packet}: paid + balance != total")
        if any(g["amount_fen"] < 1 for g in grabs):
            fail(f"packet {packet}: a share below 1 fen")
        held = {g["member"]: (g["amount_fen"], g["seq"]) for g in grabs}
        for (granted_packet, member), told in grants.items():
            if granted_packet == packet:
                checked += 1
                if held.get(member) != told:
                    fail(f"packet {packet}: member {member} was told {told}, after the restart holds {held.get(member)}")
        if packet in refunds and account.get("refund_fen") != refunds[packet]:
            fail(f"packet {packet}: refund told {refunds[packet]}, after the restart {account.get('refund_fen')}")
    return len(sent), checked, len(refunds)

def second_opener_refused(binary, journal, log):
    """A second process on the same journal exits non-zero with one line saying the journal is in use."""
    env = {k: v for k, v in os.environ.items() if k != "HONGBAO_JWT_SECRET"}
    done = subprocess.run([binary, "--port", str(free_port()), "--journal", journal, "--insecure-dev"], capture_output=True,
                          text=True, timeout=30, env=env)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode == 0 or not any("in use by another process" in line for line in lines):
        fail(f"a second service on {journal} did not refuse it: exit {done.returncode}, {done.stderr[-300:]}")
    print(f"journal-crash-test: a second service on the same journal refused: {lines[-1][:160]}")

def full_disk(binary, work):
    mount = os.path.join(work, "small-disk")
    os.makedirs(mount, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount], check=True)
    try:
        journal = os.path.join(mount, "journal.db")
        service = Service(binary, journal, os.path.join(work, "full-disk-service.log"), [])
        service.start()
        second_opener_refused(binary, journal, os.path.join(work, "second.log"))
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        members = list(range(1, 501))
        sent, failed = {}, None
        for index in range(100000):
            status, body = request(service.port, "POST", "/packets", {"total_fen": 10000 + index, "shares": 50,
                                   "members": members, "seed": index}, connection)
            if status == 201:
                sent[body["id"]] = 10000 + index
                continue
            failed = (status, body)
            break
        if failed is None:
            fail("the 2 MB disk never filled")
        status, body = failed
        if status != 503 or "disk full" not in body.get("error", ""):
            fail(f"the call that found the disk full answered {status} {body}, not 503 naming the full disk")
        after = request(service.port, "POST", "/packets", {"total_fen": 100, "shares": 1, "members": [1]}, connection)
        if after[0] != 503:
            fail(f"a call after the failed write answered {after}: the engine must stop until it is reopened")
        print(f"journal-crash-test: disk full after {len(sent)} packets: 503 \"{body['error'][:120]}\"; later calls 503 too")
        service.kill()
        subprocess.run(["mount", "-o", "remount,size=64m", mount], check=True)
        service.start()
        for packet, total in sent.items():
            status, account = request(service.port, "GET", f"/packets/{packet}")
            if status != 200 or account["total_fen"] != total:
                fail(f"acknowledged packet {packet} after the disk was full and the service restarted: {status} {account}")
        service.kill()
        print(f"journal-crash-test: after the restart on a larger disk, all {len(sent)} acknowledged packets are there")
    finally:
        subprocess.run(["umount", "-l", mount])

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    parser.add_argument("work")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--full-disk", action="store_true", help="the full-disk scenario (needs root: a tmpfs)")
    parser.add_argument("--signal", choices=["kill", "term"], default="kill",
                        help="SIGKILL (a crash) or SIGTERM (a graceful stop, which must exit 0 and keep everything, also buffered)")
    parser.add_argument("--service-args", default="", help="more arguments for the service (e.g. a buffered journal, which this test must catch losing acknowledged grants)")
    args = parser.parse_args()
    if args.full_disk:
        full_disk(args.service, args.work)
        print("journal-crash-test: pass")
        return
    rng = random.Random(args.seed)
    journal = os.path.join(args.work, "crash-journal.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(journal + suffix):
            os.remove(journal + suffix)
    service = Service(args.service, journal, os.path.join(args.work, "crash-service.log"), args.service_args.split())
    ledger = Ledger()
    members = list(range(1, 61))
    how = signal.SIGTERM if args.signal == "term" else signal.SIGKILL
    print(f"journal-crash-test: seed {args.seed}, {args.kills} × SIG{args.signal.upper()}, {args.clients} clients")
    service.start()
    for kill in range(1, args.kills + 1):
        stop = threading.Event()
        clients = [threading.Thread(target=client, args=(service.port, ledger, stop, rng.getrandbits(32), members))
                   for _ in range(args.clients)]
        for thread in clients:
            thread.start()
        time.sleep(rng.uniform(0.4, 2.0))
        service.kill(how)   # mid-load
        stop.set()
        for thread in clients:
            thread.join()
        service.start()
        packets, grants, refunds = check(service.port, ledger, members)
        print(f"journal-crash-test: kill {kill}: after the restart, {packets} packets, {grants} acknowledged grants "
              f"and {refunds} refunds are all there, exactly; money conserved in every packet; keyed sends retried: the same packets")
    service.kill()
    print("journal-crash-test: pass")

if __name__ == "__main__":
    main()
