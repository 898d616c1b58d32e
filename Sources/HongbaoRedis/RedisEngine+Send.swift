import Foundation
import HongbaoCore

/// Sending: packets created by the send script, pipelined per node, their ids issued by the engine (`PacketIDs`).
extension RedisEngine {
    /// Creates the packet: a new id, then one call of the send script.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try send([OutgoingPacket(spec, to: group, seed: seed)])[0]
    }

    /// Creates many packets, one send script call each, pipelined per node: one round trip to learn which big
    /// groups' sets exist, one to create the packets (and the missing sets, each passed once). A packet is created
    /// only where none exists: an id another process issued in the same millisecond is issued anew and sent again.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient (then nothing is sent);
    ///   `RedisEngineError(.serverError)` if a group's set in Redis does not hold the group (tampered with: no
    ///   packet is sent to it).
    public func send(_ packets: [OutgoingPacket]) throws -> [PacketID] {
        guard !packets.isEmpty else { return [] }
        let now = clock.nanoseconds
        let plans = try packets.map { try PacketPlan(id: PacketID(0), spec: $0.spec, group: $0.group, seed: $0.seed, sentAt: now) }
        let groups = plans.map { plan in plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group }
        // A big group's set is named by its digest, and shares its hash tag with the group's packets; a small group
        // lives in its packets' hashes, so any tag will do: a random one spreads its packets over the slots.
        let digests = groups.map { $0.count > GrabScript.inlineGroup ? GroupDigest(of: $0) : nil }
        let tags = digests.map { $0?.tag ?? UInt64.random(in: 0 ..< 1 << RedisKey.tagBits) }
        let groupKeys = digests.map { $0.map(RedisKey.group) }
        var ids = tags.map(packetIDs.next(tag:))

        // Which big groups' sets exist: those are adopted, the others are created by their first packet.
        var present: [RedisKey: Bool] = [:]
        var probes: [RedisCommand] = [], probeSlots: [Int] = [], probed: [RedisKey] = []
        for (key, tag) in zip(groupKeys, tags) {
            guard let key, present.updateValue(false, forKey: key) == nil else { continue }
            probes.append(RedisCommand("EXISTS", key.rawValue))
            probeSlots.append(RedisKey.slot(ofTag: tag))
            probed.append(key)
        }
        if !probes.isEmpty {
            for (key, reply) in zip(probed, try topology.pipeline(slots: probeSlots, probes)) { present[key] = try reply.check().integer == 1 }
        }

        let sha = try topology.sha(of: GrabScript.send)
        var random = SystemRandomNumberGenerator()
        let token = String(random.next(), radix: 36) + String(random.next(), radix: 36)   // this call's
        var pending = Array(plans.indices)
        for _ in 0 ..< Self.sendRounds {
            var carried: Set<RedisKey> = []   // sets created in this round: their first packet carries the members
            let commands = pending.map { index in
                let key = groupKeys[index]
                let carries = key.map { present[$0] == false && carried.insert($0).inserted } ?? false
                return Self.sendCommand(sha: sha, token: token, id: ids[index], plans[index], group: key,
                                        members: groups[index], carryingMembers: carries)
            }
            let replies = try topology.pipeline(slots: pending.map { RedisKey.slot(ofTag: tags[$0]) }, commands, writes: true)
            var again: [Int] = []
            for (index, reply) in zip(pending, replies) {
                switch try reply.check().integer {
                case 0, 1:
                    if let key = groupKeys[index] { present[key] = true }
                case -1:   // the id was taken (another process issued it in the same millisecond): a new one
                    ids[index] = packetIDs.next(tag: tags[index])
                    again.append(index)
                case -2:   // the set went away since the probe (its last packet's retention ended): send it
                    present[groupKeys[index]!] = false
                    again.append(index)
                case -3:
                    throw RedisEngineError(.serverError, "the set \(groupKeys[index]!.rawValue) in Redis does not hold the "
                                           + "\(groups[index].count) members it is named after: nothing was sent to it")
                default:
                    throw RedisEngineError(.protocolError, "the send script returned \(reply)")
                }
            }
            pending = again
            if pending.isEmpty { break }
        }
        guard pending.isEmpty else {
            throw RedisEngineError(.serverError, "\(pending.count) packets found their ids taken \(Self.sendRounds) times in a row: "
                                   + "is another process issuing ids from the same clock?")
        }
        sentGroups.withLock { book in
            for index in plans.indices { if let key = groupKeys[index] { book.record(ids[index], to: groups[index], key: key) } }
        }
        return ids
    }

    /// How many times a send is tried with fresh ids (an id is taken only when another process issued it in the
    /// same millisecond: once in a while, never eight times running).
    static let sendRounds = 8

    /// The send script call that creates one packet (`GrabScript.send`): its pre-split list, its account with its
    /// members' fields (a small group) or the name of its group's set (a big one, with the members if the set must
    /// be created).
    static func sendCommand(sha: String, token: String, id: PacketID, _ plan: PacketPlan, group: RedisKey?, members: Group,
                            carryingMembers: Bool) -> RedisCommand {
        var command = RedisCommand("EVALSHA", sha)
        command.append(group == nil ? 2 : 4)
        command.append(RedisKey.packet(id))
        command.append(RedisKey.shares(of: id))
        if let group {
            command.append(group)
            command.append(RedisKey.groupLife(group))
        }
        // The shares list: the pre-split amounts, or each share index's random from the packet's seed.
        let items: [UInt64] = plan.preSplit.isEmpty
            ? (0 ..< plan.spec.shares).map { DoubleMean.random48(seed: plan.seed, index: $0) }
            : plan.preSplit.map { UInt64($0.rawValue) }
        command.append(token)
        command.append(group == nil ? 0 : members.count)
        command.append(carryingMembers ? members.count : 0)
        command.append(items.count)
        for item in items { command.append(item) }
        if carryingMembers { for member in members.members { command.append(member.rawValue) } }
        let spec = plan.spec
        for (field, value) in [("left", Int64(spec.shares)), ("balance", spec.total.rawValue), ("closed", 0),
                               ("expires_ms", plan.expiresAt / 1_000_000), ("shares", Int64(spec.shares)),
                               ("cap", spec.policy.perShareCap.rawValue), ("total", spec.total.rawValue), ("refund", 0)]
        {
            command.append(field)
            command.append(value)
        }
        command.append("mode")
        command.append(plan.preSplit.isEmpty ? "grab" : "list")
        if let group {
            command.append("group")
            command.append(group)
        } else {
            for member in members.members {
                command.append(member.rawValue)
                command.append("0")
            }
        }
        return command
    }
}
