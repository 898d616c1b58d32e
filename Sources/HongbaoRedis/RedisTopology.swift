import Foundation
import HongbaoCore
import Synchronization

/// Where each packet's keys live: one server, or the masters of a Redis Cluster by hash slot.
///
/// The slot map comes from CLUSTER SLOTS and is replaced whole (under a lock held only for the swap) when a MOVED
/// reply shows it is stale. An ASK reply sends that one request to the importing node, preceded by ASKING. A node
/// that dies is ridden through: its commands wait (bounded) for the map to name the replica promoted in its place.
final class RedisTopology: Sendable {
    let seeds: [RedisAddress]
    let isCluster: Bool
    private let slots: AtomicLock<[RedisAddress]>         // 16384 entries in a cluster; one entry otherwise
    private let pools = AtomicLock<[RedisAddress: RedisNodePool]>([:])
    private let shas = AtomicLock<[String: String]>([:])
    /// How long a call waits for a cluster to recover from a failover before it fails.
    let recoveryTimeout: Duration
    /// When writes are acknowledged (see `Durability`).
    let durability: Durability
    /// Every failover ridden through: which node was lost, which served its slots next, and how long it took.
    let recoveries = AtomicLock<[RedisRecovery]>([])
    /// Nodes lost and not yet replaced: since when, and what the first failed call said.
    private let outages = AtomicLock<[RedisAddress: Outage]>([:])
    /// Nodes whose answers took a second or more lately (a pause, a partition): if one of them then moves its
    /// slots, they were failed over while it was silent, and that is reported as a failover.
    private let stalls = AtomicLock<[RedisAddress: Outage]>([:])

    struct Outage {
        let since: ContinuousClock.Instant
        let wallMilliseconds: Int64
        let failure: String
    }

    /// Connects to the first seed that answers and learns whether it is a cluster.
    init(seeds: [RedisAddress], recoveryTimeout: Duration = .seconds(30), durability: Durability = .master) throws {
        precondition(!seeds.isEmpty, "a topology needs at least one address")
        self.seeds = seeds
        self.recoveryTimeout = recoveryTimeout
        self.durability = durability
        var found: (cluster: Bool, map: [RedisAddress])?
        var lastError: (any Error)?
        for seed in seeds where found == nil {
            do {
                let reply = try RedisNode(seed).command(RedisCommand("CLUSTER", "SLOTS"))
                if case .error(let message) = reply, message.contains("cluster support disabled") {
                    found = (false, [seed])
                } else {
                    found = (true, try Self.slotMap(try reply.check(), template: seed))
                }
            } catch {
                lastError = error
            }
        }
        guard let found else { throw lastError! }
        isCluster = found.cluster
        slots = AtomicLock(found.map)
    }

    /// The node serving `slot` (ignored outside a cluster).
    func address(forSlot slot: Int) -> RedisAddress {
        slots.withLock { $0.count == 1 ? $0[0] : $0[slot] }
    }

    /// Every distinct master.
    var masters: [RedisAddress] {
        slots.withLock { Array(Set($0)) }.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
    }

    func pool(for address: RedisAddress) -> RedisNodePool {
        pools.withLock { pools in
            if let pool = pools[address] { return pool }
            let pool = RedisNodePool(address)
            pools[address] = pool
            return pool
        }
    }

    /// Runs commands that all concern `slot` on its node, following MOVED (refreshing the map) and ASK.
    func pipeline(slot: Int, _ commands: [RedisCommand]) throws -> [RedisReply] {
        try pipeline(slots: Array(repeating: slot, count: commands.count), commands)
    }

    /// The SHA1 of a script, as the servers know it (the same on every node: it is the script's hash), loaded once
    /// from whichever node answers.
    func sha(of script: String) throws -> String {
        if let sha = shas.withLock({ $0[script] }) { return sha }
        var lastError: (any Error)?
        for address in [address(forSlot: 0)] + masters + seeds {
            do {
                let sha = try pool(for: address).withNode { try $0.sha(of: script) }
                shas.withLock { $0[script] = sha }
                return sha
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    /// Runs each command on the node serving its slot: one pipeline per node. Only commands that did not run, or
    /// may not have run, are sent again — every command the engine sends is safe to resend (a resent grab that
    /// already ran answers with the same share, as "already grabbed"; a resent expiry knows its token; a resent
    /// send rewrites the same packet before anyone knows its id):
    /// - MOVED: the slot map is refreshed; ASK: sent to the importing node, after ASKING; TRYAGAIN (a slot being
    ///   resharded), CLUSTERDOWN, MASTERDOWN, LOADING or READONLY (a failover under way): sent again after a
    ///   short wait and a refresh of the map.
    /// - A lost connection or a node that refuses (a master died): its commands are sent again once the map names
    ///   a node that answers — the replica promoted in its place — waiting with backoff and refreshing the map
    ///   from every node known, for at most `recoveryTimeout`, then failing with a clear error.
    /// Commands that `writes` go through the engine's `durability`: replicated, each node's pipeline ends with
    /// WAIT, and its replies count only once a replica holds what they wrote.
    func pipeline(slots: [Int], _ commands: [RedisCommand], writes: Bool = false) throws -> [RedisReply] {
        precondition(slots.count == commands.count, "one slot per command")
        var replies = [RedisReply?](repeating: nil, count: commands.count)
        var pending: [(index: Int, ask: RedisAddress?)] = commands.indices.map { ($0, nil) }
        let deadline = ContinuousClock.now + recoveryTimeout
        var backoff = Duration.milliseconds(25)
        var redirects = 0
        var lostNodes: Set<RedisAddress> = []
        var failed: Set<Int> = []   // commands a lost node left
        while true {
            var routes: [RedisAddress: [(index: Int, asking: Bool)]] = [:]
            var order: [RedisAddress] = []
            for (index, ask) in pending {
                let address = ask ?? address(forSlot: slots[index])
                if routes[address] == nil { order.append(address) }
                routes[address, default: []].append((index, ask != nil))
            }
            var next: [(index: Int, ask: RedisAddress?)] = []
            var moved = false, mustWait = false
            var lastError: (any Error)?
            for address in order {
                let items = routes[address]!
                let batch = items.flatMap { $0.asking ? [RedisCommand("ASKING"), commands[$0.index]] : [commands[$0.index]] }
                let answers: [RedisReply]
                let sentAt = ContinuousClock.now
                do {
                    let slot = slots[items[0].index]
                    answers = try pool(for: address).withNode { node in
                        try writes ? durability.run(batch, slot: slot, on: node, deadline: deadline) : node.pipeline(batch)
                    }
                } catch let error as RedisEngineError where isCluster && (error.isNodeFailure || error.code == .cluster) {
                    // The node died or is unreachable: its commands may or may not have run; all are resent.
                    pool(for: address).discardIdle()
                    let outage = Outage(since: .now, wallMilliseconds: Self.wallMilliseconds(), failure: error.detail)
                    outages.withLock { $0[address] = $0[address] ?? outage }
                    lostNodes.insert(address)
                    next += items.map { ($0.index, nil) }
                    failed.formUnion(items.map(\.index))
                    mustWait = true
                    lastError = error
                    continue
                }
                let silent = ContinuousClock.now - sentAt
                if isCluster, silent >= .seconds(1) {   // remembered until the node moves its slots, or for a minute
                    stalls.withLock { stalls in
                        stalls = stalls.filter { ContinuousClock.now - $0.value.since < .seconds(60) }
                        let began = Self.wallMilliseconds() - Int64(silent / .milliseconds(1))
                        stalls[address] = stalls[address] ?? Outage(since: sentAt, wallMilliseconds: began, failure: "no answer for \(silent)")
                    }
                }
                var cursor = 0
                for (index, asking) in items {
                    if asking { cursor += 1 }   // ASKING's own +OK
                    let reply = answers[cursor]
                    cursor += 1
                    if isCluster, let redirect = Redirect(reply) {
                        if redirect.kind == .moved { moved = true }
                        if redirect.kind == .moved, let stall = stalls.withLock({ $0.removeValue(forKey: address) }) {
                            // A node that answered nothing for a second (paused, or cut off) and then moved its slots:
                            // they were failed over meanwhile — a failover as much as a dead node's.
                            outages.withLock { $0[address] = $0[address] ?? stall }
                            lostNodes.insert(address)
                            failed.insert(index)
                        }
                        redirects += 1
                        next.append((index, redirect.kind == .ask ? redirect.address(like: address) : nil))
                    } else if isCluster, case .error(let message) = reply, Self.isTransient(message) {
                        mustWait = true
                        next.append((index, asking ? address : nil))
                        lastError = RedisEngineError(.cluster, "\(address): \(message)")
                        if message.hasPrefix("CLUSTERDOWN") || message.hasPrefix("MASTERDOWN") {
                            // The node answers but cannot serve (cut off from the majority, or its master lost):
                            // an outage as much as a dead node, reported when another serves the slot.
                            let outage = Outage(since: .now, wallMilliseconds: Self.wallMilliseconds(), failure: message)
                            outages.withLock { $0[address] = $0[address] ?? outage }
                            lostNodes.insert(address)
                            failed.insert(index)
                        }
                    } else {
                        replies[index] = reply
                    }
                }
                if !lostNodes.isEmpty, items.contains(where: { failed.contains($0.index) && replies[$0.index] != nil }) {
                    // The first answer (of any thread) for commands a lost node left: its slots are served again.
                    for lost in lostNodes {
                        guard let outage = outages.withLock({ $0.removeValue(forKey: lost) }) else { continue }
                        recoveries.withLock {
                            $0.append(RedisRecovery(lost: lost, replacement: address, failedAtMilliseconds: outage.wallMilliseconds,
                                                    servedAfter: ContinuousClock.now - outage.since, failure: outage.failure))
                        }
                    }
                    lostNodes.removeAll()
                }
            }
            if next.isEmpty { return replies.map { $0! } }
            if redirects > 16 && moved {
                // Nodes that disagree about a slot (a failover under way: a node restarted empty claims its old slots
                // until the cluster tells it otherwise) bounce a command between them: wait, ask every node, and
                // go on until the recovery timeout, as for any other failover.
                mustWait = true
                lastError = RedisEngineError(.cluster, "slot \(slots[next[0].index]) kept moving (\(redirects) redirects)")
            }
            if mustWait {
                guard ContinuousClock.now + backoff < deadline else {
                    throw RedisEngineError(.cluster,
                        "the cluster did not recover within \(recoveryTimeout) (\(lastError.map { "\($0)" } ?? "no answer"))")
                }
                Thread.sleep(forTimeInterval: backoff / .seconds(1))
                backoff = min(backoff * 2, Self.longestBackoff)
                try? refresh(thorough: true)
            } else if moved {
                try refresh(thorough: !failed.isEmpty)
            }
            pending = next
        }
    }

    /// Waits until nothing that has already happened can still take back what the masters hold: every node this
    /// engine knows that answers gives the same slot map and says `cluster_state:ok`, and every replica of every
    /// master is online with all its master wrote (its offset equals the master's) — for half a second running.
    /// A partitioned master that still believes it serves its slots disagrees with the majority until the
    /// partition heals and it is demoted, so a verdict given after `settle` is given on the state that stays.
    /// Outside a cluster there is no failover to wait for. - Returns: how long it waited.
    /// - Throws: `RedisEngineError(.cluster)` if the cluster has not settled within `recoveryTimeout`.
    func settle() throws -> Duration {
        let start = ContinuousClock.now
        guard isCluster else { return .zero }
        var stableSince: ContinuousClock.Instant?
        var last = "no node answered"
        while true {
            let (settled, why) = settledNow()
            last = why
            if settled {
                let since = stableSince ?? .now
                stableSince = since
                if ContinuousClock.now - since >= .milliseconds(500) { return ContinuousClock.now - start }
            } else {
                stableSince = nil
            }
            guard ContinuousClock.now - start < recoveryTimeout else {
                throw RedisEngineError(.cluster, "the cluster did not settle within \(recoveryTimeout): \(last)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Whether the cluster is settled now, and if not, why.
    private func settledNow() -> (Bool, String) {
        try? refresh(thorough: true)
        let known = pools.withLock { Array($0.keys) }
        var seen: Set<RedisAddress> = [], maps: Set<[RedisAddress]> = []
        for address in masters + seeds + known where seen.insert(address).inserted {
            guard let replies = try? pool(for: address).withNode({ try $0.pipeline([RedisCommand(
                "CLUSTER", "INFO"), RedisCommand("CLUSTER", "SLOTS")]) })
            else { continue }   // a node that does not answer (killed, or cut off from this host) has no say
            guard replies[0].text?.contains("cluster_state:ok") == true else { return (false, "\(address) says the cluster is not ok") }
            guard let map = try? Self.slotMap(replies[1].check(), template: address) else { return (false,
                "\(address) serves an incomplete slot map") }
            maps.insert(map)
        }
        guard maps.count == 1 else { return (false, maps.isEmpty ? "no node answered" : "the nodes disagree on who serves the slots") }
        for master in masters {
            guard let info = try? pool(for: master).withNode({ try $0.command(RedisCommand("INFO", "replication")) }).text else {
                return (false, "master \(master) does not answer")
            }
            guard let (offset, replicas) = Self.replication(info) else { return (false, "\(master) is not a master") }
            for replica in replicas where !(replica.online && replica.offset == offset) {
                return (false, "a replica of \(master) is at \(replica.offset) of \(offset)")
            }
        }
        return (true, "settled")
    }

    /// A master's replication offset and its replicas' state and offsets, from INFO replication; nil for a replica.
    static func replication(_ info: String) -> (offset: Int64, replicas: [(online: Bool, offset: Int64)])? {
        var role = "", offset: Int64 = 0, replicas: [(online: Bool, offset: Int64)] = []
        for line in info.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let (key, value) = (parts[0], parts[1])
            if key == "role" { role = String(value) }
            if key == "master_repl_offset" { offset = Int64(value) ?? 0 }
            if key.hasPrefix("slave"), key.dropFirst(5).allSatisfy(\.isNumber) {
                var fields: [Substring: Substring] = [:]
                for pair in value.split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { fields[kv[0]] = kv[1] }
                }
                replicas.append((fields["state"] == "online", fields["offset"].flatMap { Int64($0) } ?? -1))
            }
        }
        return role == "master" ? (offset, replicas) : nil
    }

    /// The longest wait between two tries during a failover: the promoted replica is used at most this long after
    /// it starts serving (the longest wait measured against a shorter one on the durable stall: Benchmarks/README.md).
    static let longestBackoff = Duration.milliseconds(100)

    /// Error replies that mean "not now" during a failover or a resharding: nothing ran, try again shortly.
    static func isTransient(_ message: String) -> Bool {
        ["TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "READONLY"].contains { message.hasPrefix($0) }
    }

    static func wallMilliseconds() -> Int64 { WallPacketClock().nanoseconds / 1_000_000 }

    /// Reloads the slot map. Outside a failover (`thorough` false) the first node that answers with every slot
    /// served is believed. During one, every node known is asked and the map most of them give wins: a master
    /// restarted after it was failed over claims its old slots, empty, until the cluster tells it otherwise, and
    /// must not be believed alone.
    func refresh(thorough: Bool = false) throws {
        let known = pools.withLock { Array($0.keys) }
        var seen: Set<RedisAddress> = []
        var votes: [[RedisAddress]: Int] = [:]
        for address in masters + seeds + known where seen.insert(address).inserted {
            guard let reply = try? pool(for: address).withNode({ try $0.command(RedisCommand("CLUSTER", "SLOTS")) }),
                  let map = try? Self.slotMap(reply.check(), template: address)
            else { continue }
            guard thorough else {
                slots.withLock { $0 = map }
                return
            }
            votes[map, default: 0] += 1
        }
        guard let (map, _) = votes.max(by: { $0.value < $1.value }) else {
            throw RedisEngineError(.cluster, "no cluster node answered CLUSTER SLOTS with every slot served")
        }
        slots.withLock { $0 = map }
    }

    static func slotMap(_ reply: RedisReply, template: RedisAddress) throws -> [RedisAddress] {
        var map: [RedisAddress?] = Array(repeating: nil, count: ClusterSlot.count)
        for range in reply.elements {
            let fields = range.elements
            guard fields.count >= 3, let first = fields[0].integer, let last = fields[1].integer,
                  let host = fields[2].elements.first?.text, let port = fields[2].elements.dropFirst().first?.integer
            else { throw RedisEngineError(.protocolError, "unexpected CLUSTER SLOTS entry \(range)") }
            var address = template
            address.host = host.isEmpty ? template.host : host
            address.port = Int(port)
            for slot in Int(first) ... Int(last) { map[slot] = address }
        }
        guard let missing = map.firstIndex(where: { $0 == nil }) else { return map.map { $0! } }
        throw RedisEngineError(.cluster, "slot \(missing) is not served by any node (is the cluster up?)")
    }
}

/// A MOVED or ASK error reply.
struct Redirect {
    enum Kind { case moved, ask }
    let kind: Kind
    let host: String
    let port: Int

    init?(_ reply: RedisReply) {
        guard case .error(let message) = reply else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK",
              let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        kind = parts[0] == "MOVED" ? .moved : .ask
        host = String(parts[2][..<colon])
        self.port = port
    }

    func address(like template: RedisAddress) -> RedisAddress {
        var address = template
        address.host = host.isEmpty ? template.host : host
        address.port = port
        return address
    }
}
