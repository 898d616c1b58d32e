import Foundation
import HongbaoCore

/// Sending: packets created in pipelines, their ids from one INCRBY per call.
extension RedisEngine {
    /// Creates the packet: an id from INCR, then its keys in one pipeline (account fields last).
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try send([OutgoingPacket(spec, to: group, seed: seed)])[0]
    }

    /// Creates many packets in two round trips per node: one for their ids (INCRBY) and for whether their groups'
    /// sets exist, one to create the missing groups (one SADD each: a set appears whole) and the packets.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient (then nothing is sent).
    public func send(_ packets: [OutgoingPacket]) throws -> [PacketID] {
        guard !packets.isEmpty else { return [] }
        let now = clock.nanoseconds
        let plans = try packets.map { try PacketPlan(id: PacketID(0), spec: $0.spec, group: $0.group, seed: $0.seed, sentAt: now) }
        let groups = plans.map { plan in plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group }
        let tags = groups.map(RedisKey.tag(ofGroup:))
        let groupKeys = zip(groups, tags).map { RedisKey.group($0, tag: $1) }

        var incr = RedisCommand("INCRBY")
        incr.append(RedisKey.packetIDs)
        incr.append(packets.count)
        var probes = [incr], probeSlots = [ClusterSlot.of(key: RedisKey.packetIDs.rawValue)]
        var probed: [RedisKey: Int] = [:]   // group key → index of its EXISTS
        for (index, (key, tag)) in zip(groupKeys, tags).enumerated() where probed[key] == nil && groups[index].count > GrabScript.inlineGroup {
            var exists = RedisCommand("EXISTS")
            exists.append(key)
            probed[key] = probes.count
            probes.append(exists)
            probeSlots.append(RedisKey.slot(ofTag: tag))
        }
        let answers = try topology.pipeline(slots: probeSlots, probes).map { try $0.check() }
        guard let last = answers[0].integer, last >= packets.count, UInt64(last) < RedisKey.counterLimit else {
            throw RedisEngineError(.protocolError, "INCRBY \(RedisKey.packetIDs.rawValue) returned \(answers[0])")
        }
        let ids = tags.enumerated().map { index, tag in
            PacketID(tag << RedisKey.tagShift | UInt64(last - Int64(packets.count - 1 - index)))
        }

        var commands: [RedisCommand] = [], slots: [Int] = []
        var created: Set<RedisKey> = []
        for index in plans.indices {
            let key = groupKeys[index], slot = RedisKey.slot(ofTag: tags[index])
            let inline = groups[index].count <= GrabScript.inlineGroup
            if !inline, answers[probed[key]!].integer == 0, created.insert(key).inserted {
                var add = RedisCommand("SADD")
                add.append(key)
                for member in groups[index].members { add.append(member.rawValue) }
                commands.append(add)
                slots.append(slot)
            }
            let made = Self.sendCommands(ids[index], plans[index], group: inline ? nil : key, members: groups[index])
            commands += made
            slots += repeatElement(slot, count: made.count)
        }
        for reply in try topology.pipeline(slots: slots, commands, writes: true) { _ = try reply.check() }
        sentGroups.withLock { book in
            for index in plans.indices where groups[index].count > GrabScript.inlineGroup {
                book.record(ids[index], to: groups[index], key: groupKeys[index])
            }
        }
        return ids
    }

    /// The commands that create one packet: its pre-split list, then its account with its members' fields (a
    /// small group) or the name of its group's set (a big one) — last: the packet exists once its account does.
    static func sendCommands(_ id: PacketID, _ plan: PacketPlan, group: RedisKey?, members: Group) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        // The shares list: the pre-split amounts, or each share index's random from the packet's seed.
        let items: [UInt64] = plan.preSplit.isEmpty
            ? (0 ..< plan.spec.shares).map { DoubleMean.random48(seed: plan.seed, index: $0) }
            : plan.preSplit.map { UInt64($0.rawValue) }
        var clear = RedisCommand("DEL")   // a send resent after a lost reply rewrites the list, never appends to it
        clear.append(RedisKey.shares(of: id))
        commands.append(clear)
        for chunk in stride(from: 0, to: items.count, by: 1_000) {
            var push = RedisCommand("RPUSH")
            push.append(RedisKey.shares(of: id))
            for item in items[chunk ..< min(chunk + 1_000, items.count)] { push.append(item) }
            commands.append(push)
        }
        let spec = plan.spec
        var account = RedisCommand("HSET")
        account.append(RedisKey.packet(id))
        for (field, value) in [("left", Int64(spec.shares)), ("balance", spec.total.rawValue), ("closed", 0),
                               ("expires_ms", plan.expiresAt / 1_000_000), ("shares", Int64(spec.shares)),
                               ("cap", spec.policy.perShareCap.rawValue), ("total", spec.total.rawValue), ("refund", 0)]
        {
            account.append(field)
            account.append(value)
        }
        account.append("mode")
        account.append(plan.preSplit.isEmpty ? "grab" : "list")
        if let group {
            account.append("group")
            account.append(group)
        } else {
            for member in members.members {
                account.append(member.rawValue)
                account.append("0")
            }
        }
        commands.append(account)
        return commands
    }
}
