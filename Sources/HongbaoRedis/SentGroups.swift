import HongbaoCore

/// The big groups of the packets this engine sent, so that a batch can vouch for its grabbers and spare the server
/// a set lookup per grab: most of a festival's attempts are on big groups' packets, and most of those are lost,
/// so the membership check was a third of their script calls.
///
/// A voucher is a hint the script checks, never an answer: it names the group's key, which names the group's
/// content (`RedisKey.group`), and the script takes it only when the packet's own `group` field is that key. A
/// packet id reused after a flush, or sent by another process, is checked on the server as before. Outsiders are
/// never vouched for: the server tells them. Bounded: past `limit` packets the book starts over.
struct SentGroups {
    static let limit = 1 << 20
    private var keyOfPacket: [PacketID: RedisKey] = [:]
    private var groups: [RedisKey: Group] = [:]

    /// Notes that `packet` went to the big group `group`, stored under `key`.
    mutating func record(_ packet: PacketID, to group: Group, key: RedisKey) {
        if keyOfPacket.count >= Self.limit {
            keyOfPacket.removeAll()
            groups.removeAll()
        }
        keyOfPacket[packet] = key
        groups[key] = group
    }

    /// Forgets packets that were closed: no grab of them will need a voucher again.
    mutating func forget(_ packets: some Sequence<PacketID>) {
        for packet in packets { keyOfPacket[packet] = nil }
    }

    /// The key to vouch with for `members` grabbing `packet`: its group's, if this engine sent the packet to a big
    /// group and every one of them is in it; nil otherwise (the server checks).
    func voucher(for packet: PacketID, members: some Sequence<MemberID>) -> RedisKey? {
        guard let key = keyOfPacket[packet], let group = groups[key] else { return nil }
        for member in members where !group.contains(member) { return nil }
        return key
    }
}
