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
        var address = address(forSlot: slot)
        for attempt in 0 ..< 8 {
            let replies = try pool(for: address).withNode { try $0.pipeline(commands) }
            // TRYAGAIN: a multi-key request on a slot being resharded; the migration ends in moments.
            if isCluster, replies.contains(where: { if case .error(let message) = $0 { message.hasPrefix("TRYAGAIN") } else { false } }) {
                Thread.sleep(forTimeInterval: 0.01 * Double(1 << min(attempt, 5)))
                continue
            }
            guard isCluster, let redirect = replies.lazy.compactMap(Redirect.init).first else { return replies }
            switch redirect.kind {
            case .moved:
                try refresh()
                address = self.address(forSlot: slot)
            case .ask:
                let asking = commands.flatMap { [RedisCommand("ASKING"), $0] }
                let answered = try pool(for: redirect.address(like: address)).withNode { try $0.pipeline(asking) }
                return stride(from: 1, to: answered.count, by: 2).map { answered[$0] }
            }
        }
        throw RedisEngineError(.cluster, "slot \(slot) kept moving or resharding: gave up after 8 tries")
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

    /// Test hook: make the client believe every slot is served by `address` (a stale map, as after a reshard).
    func pretendAllSlots(at address: RedisAddress) {
        slots.withLock { $0 = Array(repeating: address, count: $0.count) }
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
