/// What a packet is at creation, shared read-only by every grab: spec, group, deadline and, unless shares are
/// computed at grab time, the pre-split amounts.
package struct PacketPlan: Sendable {
    package let id: PacketID
    package let spec: PacketSpec
    package let group: Group
    package let seed: UInt64
    /// When the packet stops taking grabs, on the engine's `PacketClock` (nanoseconds).
    package let expiresAt: Int64
    /// The shares in grab order, drawn at creation; empty when they are computed at grab time.
    package let preSplit: [Fen]
    /// For an exclusive packet, the only member who may grab.
    package let recipient: MemberID?

    /// - Throws: `GrabEngineError` for an empty group, one above `Group.maximumCount`, or an exclusive recipient
    ///   outside the group.
    package init(id: PacketID, spec: PacketSpec, group: Group, seed: UInt64, sentAt: Int64) throws {
        guard group.count > 0 else { throw GrabEngineError(.emptyGroup, "a packet cannot be sent to an empty group: nothing was sent") }
        guard group.count <= Group.maximumCount else {
            throw GrabEngineError(.invalidArgument, "a group holds at most \(Group.maximumCount) members, this one \(group.count): nothing was sent")
        }
        if case .exclusive(let member) = spec.kind {
            guard group.contains(member) else {
                throw GrabEngineError(.recipientNotInGroup, "the exclusive packet's recipient \(member) is not in its group: nothing was sent")
            }
            recipient = member
        } else {
            recipient = nil
        }
        self.id = id
        self.spec = spec
        self.group = group
        self.seed = seed
        self.expiresAt = sentAt.addingReportingOverflow(spec.expiry.nanosecondsSaturated).overflow
            ? .max : sentAt + spec.expiry.nanosecondsSaturated
        self.preSplit = spec.algorithm.computesAtGrab && recipient == nil ? [] : RedPacket.split(spec, seed: seed)
    }

    /// The plan of a packet rebuilt from a journal's (validated) image: its members as stored — an exclusive
    /// packet's recipient only, so everyone else is still not a member — and its amounts as drawn at send.
    /// - Throws: `JournalError.corrupt` if no packet spec could have made it.
    package init(restoring image: PacketImage) throws(JournalError) {
        do {
            spec = try PacketSpec(total: image.total, shares: image.amounts.count, kind: .lucky, algorithm: .doubleMean,
                                  expiry: .seconds(1), policy: PacketPolicy(perShareCap: image.perShareCap, shareCountCap: image.amounts.count))
        } catch {
            throw .corrupt("\(image.id): \(error)")
        }
        id = image.id
        group = Group(sortedUniqueUnchecked: image.members[...])
        seed = 0
        expiresAt = image.expiresAt
        preSplit = image.amounts
        recipient = nil
    }

    /// The member's dense index for per-member state, or nil if it may not grab this packet.
    @inlinable
    package func grabberIndex(of member: MemberID) -> Int? {
        if let recipient, member != recipient { return nil }
        return group.index(of: member)
    }

    /// The amount of the share with 0-based grab index `index`, given what is left before it.
    @inlinable
    package func amount(ofShare index: Int, balance: Int64, remaining: Int64) -> Int64 {
        if preSplit.isEmpty {
            return DoubleMean.share(balance: balance, remaining: remaining, cap: spec.policy.perShareCap.rawValue,
                                    random48: DoubleMean.random48(seed: seed, index: index))
        }
        return preSplit[index].rawValue
    }
}
