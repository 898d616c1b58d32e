import HongbaoCore

/// Grabbing: one script call per slot per batch (`GrabScriptCall`), pipelined per node.
extension RedisEngine {
    /// One grab: one EVALSHA. - Throws: as `grab(_:)` for a batch.
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grab([GrabRequest(packet: packet, member: member)])[0]
    }

    /// Many grabs in as few round trips as the topology allows: one script call per slot, pipelined per node
    /// (one call in all on a single server). Each caller still gets its own outcome, in request order.
    /// - Throws: `RedisEngineError` for a failed connection or server, `GrabEngineError.unknownPacket`.
    public func grab(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: false).map(\.outcome)
    }

    /// Many grabs, as `grab(_:)`, each with the seq of the share its member holds.
    public func grabReceipts(_ requests: [GrabRequest]) throws -> [GrabReceipt] {
        try grab(requests, callPerGrab: false)
    }

    /// Many grabs pipelined: one script call per grab, all of a node's calls appended before the replies are read
    /// (one round trip per node). Slower on the server than `grab(_:)`'s batches; for comparing the two.
    public func grabPipelined(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: true).map(\.outcome)
    }

    func grab(_ requests: [GrabRequest], callPerGrab: Bool) throws -> [GrabReceipt] {
        guard !requests.isEmpty else { return [] }
        let calls = GrabScriptCall.plan(requests, slotOf: { topology.isCluster ? RedisKey.slot(of: $0) : 0 }, callPerGrab: callPerGrab)
        let sha = try topology.sha(of: GrabScript.grab)
        let now = clock.nanoseconds / 1_000_000
        let commands = sentGroups.withLock { book in calls.map { $0.command(sha: sha, now: now, requests: requests, vouchers: book) } }
        // One pipeline per node; only calls that were redirected are sent again.
        let replies = try topology.pipeline(slots: calls.map(\.slot), commands, writes: true)
        var receipts = [GrabReceipt?](repeating: nil, count: requests.count)
        for (call, reply) in zip(calls, replies) {
            for (index, receipt) in try call.receipts(from: reply, requests: requests) { receipts[index] = receipt }
        }
        return receipts.map { $0! }
    }

    static func outcome(code: Int64, amount: Int64, packet: PacketID) throws -> GrabOutcome {
        switch code {
        case 0: return .granted(Fen(amount))
        case 1: return .alreadyGrabbed(Fen(amount))
        case -1: return .soldOut
        case -2: return .expired
        case -3: return .notMember
        case -4: throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        default: throw RedisEngineError(.protocolError, "the grab script returned code \(code)")
        }
    }
}
