import HongbaoCore

/// One call of the grab script: the packets it serves — all in one hash slot, so one node runs it atomically — and,
/// per packet, the positions (in the caller's request list) of its grabbers. A batch of grabs becomes one call per
/// slot; `callPerGrab` makes one call per grab instead (to compare the two).
struct GrabScriptCall {
    let slot: Int
    private(set) var packets: [PacketID] = []
    /// `grabbers[k]`: the positions in the request list of the grabs of `packets[k]`, in request order.
    private(set) var grabbers: [[Int]] = []

    init(slot: Int) { self.slot = slot }

    /// The calls that serve `requests`: one per slot (or per grab), each packet's grabbers together.
    static func plan(_ requests: [GrabRequest], slotOf: (PacketID) -> Int, callPerGrab: Bool) -> [GrabScriptCall] {
        var calls: [GrabScriptCall] = []
        var callOfSlot: [Int: Int] = [:]
        var packetOfCall: [PacketID: Int] = [:]   // packet → its index within its call
        for (position, request) in requests.enumerated() {
            let slot = slotOf(request.packet)
            if callPerGrab {
                var call = GrabScriptCall(slot: slot)
                call.add(request.packet, grabber: position, known: nil)
                calls.append(call)
                continue
            }
            let index: Int
            if let known = callOfSlot[slot] {
                index = known
            } else {
                index = calls.count
                callOfSlot[slot] = index
                calls.append(GrabScriptCall(slot: slot))
            }
            packetOfCall[request.packet] = calls[index].add(request.packet, grabber: position, known: packetOfCall[request.packet])
        }
        return calls
    }

    /// Adds a grabber of `packet`; `known` is the packet's index in this call if it is already here.
    /// - Returns: the packet's index in this call.
    @discardableResult
    private mutating func add(_ packet: PacketID, grabber position: Int, known: Int?) -> Int {
        if let known {
            grabbers[known].append(position)
            return known
        }
        packets.append(packet)
        grabbers.append([position])
        return packets.count - 1
    }

    /// The EVALSHA: two keys per packet, the time, then per packet its grabbers' count, the group vouched for
    /// (`SentGroups`; "" for none) and the members.
    func command(sha: String, now milliseconds: Int64, requests: [GrabRequest], vouchers: SentGroups) -> RedisCommand {
        var command = RedisCommand("EVALSHA", sha)
        command.append(packets.count * 2)
        for packet in packets { for key in RedisKey.scriptKeys(of: packet) { command.append(key) } }
        command.append(milliseconds)
        for (packet, positions) in zip(packets, grabbers) {
            command.append(positions.count)
            command.append(vouchers.voucher(for: packet, members: positions.lazy.map { requests[$0].member })?.rawValue ?? "")
            for position in positions { command.append(requests[position].member.rawValue) }
        }
        return command
    }

    /// Each grabber's receipt, by position in the request list, from the script's reply (code, seq, amount per
    /// grab, in this call's order).
    /// - Throws: `GrabEngineError.unknownPacket`, or `RedisEngineError` for an error reply or a malformed one.
    func receipts(from reply: RedisReply, requests: [GrabRequest]) throws -> [(position: Int, receipt: GrabReceipt)] {
        let values = try reply.check().elements.compactMap(\.integer)
        let order = grabbers.joined()
        guard values.count == order.count * 3 else {
            throw RedisEngineError(.protocolError, "the grab script returned \(values.count) values for \(order.count) grabs")
        }
        return try order.enumerated().map { k, position in
            let outcome = try RedisEngine.outcome(code: values[3 * k], amount: values[3 * k + 2], packet: requests[position].packet)
            return (position, GrabReceipt(outcome, seq: outcome.share == nil ? nil : Int(values[3 * k + 1])))
        }
    }
}
