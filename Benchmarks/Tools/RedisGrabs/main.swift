import Foundation
@_spi(Harness) import HongbaoCore
import HongbaoRedis

// Grabs per second through the Redis engine on hot packets, in three modes, from 1 and 2 threads:
//   single     one EVALSHA, one round trip per grab (unpipelined)
//   pipelined  64 EVALSHAs appended, then 64 replies read: one round trip per 64 grabs
//   batched    one EVALSHA serving 64 grabs: one round trip and one script call per 64 grabs
// Usage: RedisGrabs redis://127.0.0.1:PORT [grabs per measurement]   |   RedisGrabs --print-script
// Also prints the arguments redis-benchmark needs to run the same script on a packet of its own.

let arguments = CommandLine.arguments
if arguments.count == 2 && arguments[1] == "--print-script" {
    print(RedisEngine.grabScript, terminator: "")
    exit(0)
}
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: RedisGrabs redis://host:port [grabs]\n".utf8))
    exit(2)
}
let url = arguments[1]
let grabs = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
let engine = try RedisEngine(url: url)
let policy = PacketPolicy(perShareCap: Fen(yuan: 200), shareCountCap: 4_000_000)

/// A hot packet: `shares` shares, every member of 1 … shares may grab once.
func hotPacket(shares: Int) throws -> PacketID {
    try engine.send(try PacketSpec(total: Fen(Int64(shares) * 100), shares: shares, policy: policy),
                    to: Group(range: 1 ... UInt32(shares)), seed: 7)
}

func measure(_ mode: String, threads: Int, depth: Int) throws -> Double {
    let packet = try hotPacket(shares: grabs)
    let perThread = grabs / threads
    var start = ContinuousClock.now
    let failures = runThreads(threads) { thread -> (any Error)? in
        do {
            var member = UInt32(thread * perThread + 1)
            let last = UInt32((thread + 1) * perThread)
            while member <= last {
                let count = min(UInt32(depth), last - member + 1)
                let requests = (member ..< member + count).map { GrabRequest(packet: packet, member: MemberID($0)) }
                let outcomes: [GrabOutcome] = switch mode {
                case "single": try requests.map { try engine.grab($0.packet, for: $0.member) }
                case "pipelined": try engine.grabPipelined(requests)
                default: try engine.grab(requests)
                }
                precondition(outcomes.allSatisfy { $0.share != nil }, "every grab of a fresh member wins")
                member += count
            }
            return nil
        } catch {
            return error
        }
    } meanwhile: { _ in
        start = ContinuousClock.now
    }
    if let error = failures.lazy.compactMap({ $0 }).first { throw error }
    let seconds = (ContinuousClock.now - start) / .seconds(1)
    let summary = try engine.summary(of: packet)
    precondition(summary.grabs.count == perThread * threads && summary.paid + summary.balance == summary.total)
    return Double(perThread * threads) / seconds
}

print("mode,threads,depth,grabs_per_s")
for (mode, depth) in [("single", 1), ("pipelined", 64), ("batched", 64), ("batched", 512)] {
    for threads in [1, 2] {
        let rate = try measure(mode, threads: threads, depth: depth)
        print("\(mode),\(threads),\(depth),\(Int(rate))")
    }
}
let benchmarkPacket = try hotPacket(shares: 3_000_000)
print("# redis-benchmark packet: \(benchmarkPacket.rawValue)")

