#!/usr/bin/env python3
"""Reads a Redis Cluster's final state independently of bench and compares it with what bench's callers were told
(`bench --told FILE`) and with bench's verdict (issue 18). Exit 0 if the verdict is the truth.

Usage: partition-check.py NAME BENCH_EXIT BENCH_JSON TOLD_FILE BENCH_STDERR SEEDS
A durable run (NAME starts with "durable") must lose nothing and pass. A plain run's verdict must count exactly the
real losses — grants, refunds, sends — and pass only if there are none.
"""
import json, socket, sys

name, status, json_path, told_path, err_path, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]


class Node:
    """A minimal RESP client: enough for CLUSTER SLOTS and HGETALL."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def base36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def packet_key(packet):
    tag = base36(packet >> 51)
    return f"hb:{{{tag}}}:p:{packet}".encode(), crc16(tag.encode()) % 16384


first = seeds.split(",")[0].replace("redis://", "")
host, port = first.rsplit(":", 1)
slots = {}
for entry in (lambda n: (n.command("CLUSTER", "SLOTS"), n.reply())[1])(Node(host, int(port))):
    lo, hi, master = entry[0], entry[1], entry[2]
    for slot in range(lo, hi + 1):
        slots[slot] = (master[0].decode(), master[1])
nodes = {}

# What bench's callers were told.
sent, grants, refunds = {}, [], {}
for line in open(told_path):
    kind, *fields = line.split()
    if kind == "s":
        sent[int(fields[0])] = int(fields[1])
    elif kind == "g":   # one line per answer: a member may have been told twice (a retry), even two amounts
        grants.append((int(fields[0]), int(fields[1]), int(fields[2])))
    elif kind == "r":
        refunds[int(fields[0])] = int(fields[1])

# The final state, packet by packet (pipelined per node).
by_node = {}
for packet in set(sent) | {p for p, _, _ in grants} | set(refunds):
    key, slot = packet_key(packet)
    by_node.setdefault(slots[slot], []).append((packet, key))
final = {}
for address, items in by_node.items():
    node = nodes.setdefault(address, Node(*address))
    for start in range(0, len(items), 500):
        part = items[start:start + 500]
        for _, key in part:
            node.command("HGETALL", key)
        for packet, _ in part:
            flat = node.reply()
            final[packet] = {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)} if flat else None

lost_sends = sum(1 for p in sent if final.get(p) is None)
# As bench counts them: a grant is lost once per member and packet whose final state holds nothing for the member;
# an amount is wrong once per answer that told another amount than the one held.
lost_grants = wrong_amounts = 0
lost_members = set()
for packet, member, amount in grants:
    account = final.get(packet)
    held = account.get(str(member).encode()) if account else None
    if held is None or held == b"0":
        if (packet, member) not in lost_members:
            lost_members.add((packet, member))
            lost_grants += 1
    elif int(held.split(b":")[1]) != amount:
        wrong_amounts += 1
lost_refunds = 0
for packet, refund in refunds.items():
    account = final.get(packet)
    if account is None or account.get(b"closed") != b"1" or int(account.get(b"refund", b"-1")) != refund:
        lost_refunds += 1

truth = {"lost_sends": lost_sends, "lost_grants": lost_grants, "wrong_amounts": wrong_amounts, "lost_refunds": lost_refunds}
print(f"{name}: told {len(sent)} sends, {len(grants)} grants, {len(refunds)} refunds; "
      f"the final state lost {lost_sends} sends, {lost_grants} grants, {lost_refunds} refunds, {wrong_amounts} amounts changed")
if status not in (0, 2):
    sys.exit(f"{name}: bench failed (exit {status}): " + open(err_path).read().strip()[-400:])
verdict = json.load(open(json_path))["runs"][0]["verdict"]
claimed = {k: verdict.get(k, 0) for k in truth}
print(f"{name}: bench's verdict: {'pass' if status == 0 else 'fail'}, reported {claimed}")
real = any(truth.values())
if name.startswith("durable") and (real or status != 0):
    sys.exit(f"{name}: a durable run must lose nothing and pass")
if status == 0 and real:
    sys.exit(f"{name}: bench passed a run that lost what it told its callers")
if status == 2 and not real and not any(claimed.values()):
    sys.exit(f"{name}: bench failed a run whose final state holds everything it told")
if claimed != truth:
    sys.exit(f"{name}: bench reported {claimed}, the final state shows {truth}")
