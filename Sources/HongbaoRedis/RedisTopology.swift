import Foundation
import Synchronization

/// Where each packet's keys live: one server, or the masters of a Redis Cluster by hash slot.
///
/// The slot map comes from CLUSTER SLOTS and is replaced whole (under a lock held only for the swap) when a MOVED
/// reply shows it is stale. An ASK reply sends that one request to the importing node, preceded by ASKING.
final class RedisTopology: Sendable {
    let seeds: [RedisAddress]
    let isCluster: Bool
    private let slots: Locked<[RedisAddress]>         // 16384 entries in a cluster; one entry otherwise
    private let pools = Locked<[RedisAddress: RedisNodePool]>([:])

    /// Connects to the first seed that answers and learns whether it is a cluster.
    init(seeds: [RedisAddress]) throws {
        precondition(!seeds.isEmpty, "a topology needs at least one address")
        self.seeds = seeds
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
        slots = Locked(found.map)
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

    /// Runs each command on the node serving its slot: one pipeline per node. In a cluster, only the commands
    /// answered with MOVED (the map is refreshed), ASK (sent again to the importing node, after ASKING) or
    /// TRYAGAIN (a slot being resharded; sent again after a short wait) are sent again — the others have run,
    /// and running a grab twice would turn its "granted" into "already grabbed".
    func pipeline(slots: [Int], _ commands: [RedisCommand]) throws -> [RedisReply] {
        precondition(slots.count == commands.count, "one slot per command")
        var replies = [RedisReply?](repeating: nil, count: commands.count)
        var pending: [(index: Int, ask: RedisAddress?)] = commands.indices.map { ($0, nil) }
        for attempt in 0 ..< 8 {
            var routes: [RedisAddress: [(index: Int, asking: Bool)]] = [:]
            var order: [RedisAddress] = []
            for (index, ask) in pending {
                let address = ask ?? address(forSlot: slots[index])
                if routes[address] == nil { order.append(address) }
                routes[address, default: []].append((index, ask != nil))
            }
            var next: [(index: Int, ask: RedisAddress?)] = []
            var moved = false, resharding = false
            for address in order {
                let items = routes[address]!
                let batch = items.flatMap { $0.asking ? [RedisCommand("ASKING"), commands[$0.index]] : [commands[$0.index]] }
                let answers = try pool(for: address).withNode { try $0.pipeline(batch) }
                var cursor = 0
                for (index, asking) in items {
                    if asking { cursor += 1 }   // ASKING's own +OK
                    let reply = answers[cursor]
                    cursor += 1
                    if isCluster, let redirect = Redirect(reply) {
                        if redirect.kind == .moved { moved = true }
                        next.append((index, redirect.kind == .ask ? redirect.address(like: address) : nil))
                    } else if isCluster, case .error(let message) = reply, message.hasPrefix("TRYAGAIN") {
                        resharding = true
                        next.append((index, asking ? address : nil))
                    } else {
                        replies[index] = reply
                    }
                }
            }
            if next.isEmpty { return replies.map { $0! } }
            if moved { try refresh() }
            if resharding { Thread.sleep(forTimeInterval: 0.01 * Double(1 << min(attempt, 5))) }
            pending = next
        }
        throw RedisEngineError(.cluster, "slot \(slots[pending[0].index]) kept moving or resharding: gave up after 8 tries")
    }

    /// Reloads the slot map from any master that answers.
    func refresh() throws {
        for seed in masters + seeds {
            guard let reply = try? pool(for: seed).withNode({ try $0.command(RedisCommand("CLUSTER", "SLOTS")) }),
                  let map = try? Self.slotMap(reply.check(), template: seed)
            else { continue }
            slots.withLock { $0 = map }
            return
        }
        throw RedisEngineError(.cluster, "no cluster node answered CLUSTER SLOTS")
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
