import Foundation
import HongbaoCore
import Synchronization

// A soak of the lock-free engine as a long-running service uses it: each packet is sent (10 shares of ¥1.00 to a
// 500-member group), grabbed once, and expired; an injected clock moves 1 ms a packet, so with a retention of
// RETAINED ms each packet is reclaimed RETAINED packets after its refund — the live set is RETAINED packets.
// Every outcome is checked (a grant, then the refund of the other nine shares); any other answer stops the run.
//   shared   one Group value for every send (a chat group)
//   fresh    a Group built afresh for each send from 1,000 memberships (as a service decoding each request)
// Usage: Soak PACKETS [RETAINED] [shared|fresh]   → progress every 5 M packets on stderr, then one CSV line
// (SOAK_SYSTEM_CLOCK=1: the system clock instead, RETAINED real milliseconds; progress every 100,000 packets):
//   mode,packets,seconds,packets_per_s,live_packets,live_bytes,rss_start_mib,rss_warm_mib,rss_peak_mib,rss_end_mib
// (rss_start: before the engine exists; the engine's own memory is rss − rss_start)

final class SteppedClock: PacketClock {
    let now = Atomic<Int64>(0)
    var nanoseconds: Int64 { now.load(ordering: .relaxed) }
}

func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("Soak: error: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard (2 ... 4).contains(arguments.count), let packets = Int(arguments[1]), packets >= 1,
      let retained = arguments.count > 2 ? Int(arguments[2]) : 100_000, retained >= 0 else {
    fail("usage: Soak PACKETS [RETAINED] [shared|fresh]")
}
let mode = arguments.count > 3 ? arguments[3] : "shared"
guard ["shared", "fresh"].contains(mode) else { fail("mode must be shared or fresh, got \(mode)") }

let rssStart = residentBytes()
let clock = SteppedClock()
let realTime = ProcessInfo.processInfo.environment["SOAK_SYSTEM_CLOCK"] == "1"
let engine = realTime ? LockFreeEngine(retention: .milliseconds(retained))
    : LockFreeEngine(retention: .milliseconds(retained), clock: clock)
let spec = try PacketSpec(total: 100_00, shares: 10)
let shared = Group(range: 1 ... 500)
let warmUp = min(packets, 2 * retained + 1_000_000)
var rssWarm = 0, rssPeak = 0
let start = ContinuousClock.now
for index in 0 ..< packets {
    let group = mode == "shared" ? shared : Group(range: UInt32(index % 1_000) + 1 ... UInt32(index % 1_000) + 500)
    let packet: PacketID
    do { packet = try engine.send(spec, to: group, seed: UInt64(index)) } catch { fail("send \(index): \(error)") }
    let member = group.member(at: index % 500)
    guard case .granted(let won)? = try? engine.grab(packet, for: member) else { fail("grab on \(packet) was not granted") }
    guard case .refunded(let refund)? = try? engine.expire(packet), won + refund == spec.total else {
        fail("the expiry of \(packet) did not refund the rest")
    }
    clock.now.add(1_000_000, ordering: .relaxed)
    if index + 1 == warmUp { rssWarm = residentBytes() }
    if index % 65_536 == 0 && index >= warmUp { rssPeak = max(rssPeak, residentBytes()) }
    if (index + 1) % (realTime ? 100_000 : 5_000_000) == 0 {
        FileHandle.standardError.write(Data("""
            Soak: \((index + 1).formatted()) packets, \(engine.packetsHeld.formatted()) held, \((engine.bytesInUse >> 20).formatted()) MiB in the \
            arena, resident \((residentBytes() >> 20).formatted()) MiB\n
            """.utf8))
    }
}
let seconds = (ContinuousClock.now - start) / .seconds(1)
rssPeak = max(rssPeak, residentBytes())
print([mode, "\(packets)", String(format: "%.2f", seconds), String(format: "%.0f", Double(packets) / seconds),
       "\(engine.packetsHeld)", "\(engine.bytesInUse)", "\(rssStart >> 20)", "\(rssWarm >> 20)", "\(rssPeak >> 20)", "\(residentBytes() >> 20)"]
    .joined(separator: ","))
