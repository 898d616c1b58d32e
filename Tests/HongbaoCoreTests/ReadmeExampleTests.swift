import HongbaoCore
import Testing

/// The README's embedding example, as written there, so that it keeps compiling and doing what it says.
@Test func theReadmeExampleGrabsAndRefunds() throws {
    let engine = LockFreeEngine()
    let group = Group(range: 1 ... 200)
    let spec = try PacketSpec(total: Fen(yuan: 100), shares: 10)
    let packet = try engine.send(spec, to: group, seed: 42)
    var held: Fen?
    switch try engine.grab(packet, for: MemberID(7)) {
    case .granted(let share), .alreadyGrabbed(let share): held = share
    case .soldOut, .expired, .notMember: held = nil
    }
    let refund = try engine.expire(packet).refund
    #expect(held == RedPacket.split(spec, seed: 42)[0])
    #expect(refund + held! == Fen(yuan: 100))
}
