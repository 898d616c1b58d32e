import Foundation
import HongbaoCore
@testable import HongbaoRedis
import HongbaoTestSupport
import Testing

/// On a real 3-master Redis Cluster started by `scripts/test` (scripts/redis-cluster.sh).
@Suite("Redis Cluster", .serialized,
       .enabled(if: RedisTestServer.clusterIsAvailable, "no HONGBAO_REDIS_CLUSTER_URL: run the tests through scripts/test"))
struct RedisClusterTests {
    static func engine() throws -> RedisEngine { try RedisEngine(url: RedisTestServer.clusterURL!) }

    static func command(_ engine: RedisEngine, at address: RedisAddress, _ arguments: String...) throws -> RedisReply {
        var command = RedisCommand()
        for argument in arguments { command.append(argument) }
        return try engine.topology.pool(for: address).withNode { try $0.command(command) }.check()
    }

    @Test func packetsSpreadOverEveryMasterAndRaceCorrectly() throws {
        let engine = try Self.engine()
        #expect(engine.name == "redis-cluster" && engine.masters.count == 3)
        // A packet lives in its group's slot: packets to 60 groups spread over the masters.
        let spread = try (0 ..< 60).map { index in
            try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: UInt32(index) ... UInt32(index + 9)), seed: 0)
        }
        var perMaster: [RedisAddress: Int] = [:]
        for master in engine.masters {
            for packet in spread {
                // Another master answers MOVED (an error reply): the key is not there.
                var exists = RedisCommand("EXISTS")
                exists.append(RedisKey.packet(packet))
                if try engine.topology.pool(for: master).withNode({ try $0.command(exists) }) == .integer(1) {
                    perMaster[master, default: 0] += 1
                }
            }
        }
        #expect(perMaster.count == 3 && perMaster.values.reduce(0, +) == 60, "\(perMaster)")
        let packets = try GrabRace.sendPackets(engine, count: 60, members: 1 ... 24, algorithms: [.doubleMeanAtGrab, .lineCutting])
        let observed = GrabRace.run(engine, packets: packets, members: 1 ... 24, threads: 3)
        let violations = try GrabRace.violations(engine, packets: packets, observed: observed)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // One batch across every node: grouped per node, one script call per slot.
        let more = try (0 ..< 30).map { index in
            try engine.send(try PacketSpec(total: 300, shares: 3), to: Group([1, 2, 3, 4, 5, MemberID(UInt32(100 + index))]), seed: 2)
        }
        let requests = more.flatMap { packet in (1 ... UInt32(5)).map { GrabRequest(packet: packet, member: MemberID($0)) } }
        let outcomes = try engine.grab(requests)
        for packet in more {
            #expect(zip(requests, outcomes).filter { $0.0.packet == packet && $0.1.share != nil }.count == 3)
        }
    }

    @Test func benchRunsOnTheCluster() throws {
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("hongbao-cluster-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: db) }
        let run = try Executable("bench").run(["--members", "3000", "--packets", "300", "--seed", "9", "--threads", "2",
                                               "--redis", RedisTestServer.clusterURL!, "--batch", "16", "--db", db, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        check.arguments = [db, "SELECT engine || ' ' || verdict || ' ' || complete FROM runs"]
        let output = Pipe()
        check.standardOutput = output
        try check.run()   // the sqlite3 shell is installed by scripts/test
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(text == "redis-cluster pass 1\n")
    }

    /// A slot migrated while the client's map is stale: mid-migration the old owner answers ASK, afterwards MOVED;
    /// grabs still succeed and retries still see their shares.
    @Test func aGrabOnAMovedSlotStillSucceeds() throws {
        let engine = try Self.engine()
        // Pre-split, so all five of its keys exist: mid-migration, a script over keys of which some are missing
        // gets TRYAGAIN until the migration ends.
        let packet = try engine.send(try PacketSpec(total: 10_00, shares: 5, algorithm: .lineCutting), to: Group(range: 1 ... 10), seed: 1)
        let first = try #require(try engine.grab(packet, for: 1).share)
        let slot = RedisKey.slot(of: packet)
        let source = engine.topology.address(forSlot: slot)
        let target = try #require(engine.masters.first { $0 != source })
        let sourceID = try #require(try Self.command(engine, at: source, "CLUSTER", "MYID").text)
        let targetID = try #require(try Self.command(engine, at: target, "CLUSTER", "MYID").text)

        // Whatever happens below, the slot ends up owned by the target, so the cluster stays usable.
        defer {
            for node in engine.masters { _ = try? Self.command(engine, at: node, "CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID) }
        }
        _ = try Self.command(engine, at: target, "CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID)
        _ = try Self.command(engine, at: source, "CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID)
        // Every key of the slot moves (other packets may share it).
        let keys = try Self.command(engine, at: source, "CLUSTER", "GETKEYSINSLOT", "\(slot)", "100000").elements.compactMap(\.text)
        #expect(Set(RedisKey.scriptKeys(of: packet).map(\.rawValue)).isSubset(of: keys), "the packet hash and its shares list")
        var migrate = RedisCommand("MIGRATE", target.host, "\(target.port)", "", "0", "5000", "KEYS")
        for key in keys { migrate.append(key) }
        _ = try engine.topology.pool(for: source).withNode { try $0.command(migrate) }.check()

        #expect(try engine.grab(packet, for: 2).share != nil, "ASK: the keys are on the importing node")
        #expect(try engine.grab(packet, for: 1) == .alreadyGrabbed(first))
        #expect(try engine.summary(of: packet).grabs.count == 2, "a summary follows ASK while the slot migrates")

        for node in engine.masters {
            _ = try Self.command(engine, at: node, "CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID)
        }
        #expect(engine.topology.address(forSlot: slot) == source, "the client's map is stale")
        #expect(try engine.grab(packet, for: 3).share != nil, "MOVED: the client refreshes its map and retries")
        #expect(engine.topology.address(forSlot: slot) == target)
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.map(\.member) == [1, 2, 3] && PacketFindings(summary).violations == [])
    }
}
