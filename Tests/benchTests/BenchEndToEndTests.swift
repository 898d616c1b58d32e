import Foundation
import HongbaoSQLite
import HongbaoTestSupport
import Testing

/// `bench` and `hongbao report` run as a user runs them: exit codes, output, and the database they leave.
@Suite("bench and report, end to end", .serialized)
struct BenchEndToEndTests {
    static func temporaryDirectory() -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hongbao-bench-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static let tiny = ["--members", "3000", "--packets", "400", "--seed", "5", "--threads", "2"]
    /// The default engines.
    static let engines = ["lock-free", "mutex", "actor"]

    @Test func helpListsTheOptions() throws {
        let run = try Executable("bench").run(["--help"])
        #expect(run.status == 0)
        for option in ["--engine", "--members", "--packets", "--threads", "--seed", "--algorithm", "--rate",
                       "--duration", "--db", "--json", "--quiet"] {
            #expect(run.standardOutput.contains(option), "help mentions \(option)")
        }
    }

    /// The null engine answers every grab "granted" and keeps no records: bench reports it as not audited —
    /// neither a pass nor a failure — stores none of its grabs, and exits 0.
    @Test func theNullEngineIsNotAudited() throws {
        let db = Self.temporaryDirectory().appendingPathComponent("null.db").path
        let run = try Executable("bench").run(Self.tiny + ["--engine", "null", "--db", db, "--json", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
        let runs = try #require(json?["runs"] as? [[String: Any]])
        let verdict = try #require(runs.first?["verdict"] as? [String: Any])
        #expect(runs.count == 1 && (runs.first?["engine"] as? String)?.hasPrefix("null") == true)
        #expect(verdict["audited"] as? Bool == false, "\(verdict)")
        let store = try ResultStore(path: db)
        #expect(try store.integer("SELECT COUNT(*) FROM grabs") == 0)
        #expect(try store.integer("SELECT COUNT(*) FROM runs WHERE complete = 1") == 1)
    }

    @Test func aTinySeededRunWritesADatabaseWhoseInvariantsHold() throws {
        let db = Self.temporaryDirectory().appendingPathComponent("runs.db").path
        let run = try Executable("bench").run(Self.tiny + ["--engine"] + Self.engines + ["--db", db, "--json", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
        let runs = try #require(json?["runs"] as? [[String: Any]])
        #expect(json?["build"] as? String == "debug", "the tests run a debug bench, and it says so")
        #expect(runs.compactMap { $0["engine"] as? String } == Self.engines)
        #expect(runs.allSatisfy { ($0["verdict"] as? [String: Any])?["oversold"] as? Int == 0 })

        let store = try ResultStore(path: db)
        #expect(try store.integer("SELECT COUNT(*) FROM runs WHERE complete = 1") == Int64(Self.engines.count))
        #expect(try store.integer("SELECT COUNT(*) FROM packets") == Int64(Self.engines.count * 400))
        // Checked with SQL over what was stored: money conserved per packet, no oversell, nobody paid twice,
        // every share ≥ 1 fen, grab sequence numbers 1 … n.
        #expect(try store.integer("""
            SELECT COUNT(*) FROM packets p
            WHERE p.total_fen != p.refund_fen + (SELECT COALESCE(SUM(amount_fen), 0) FROM grabs g
                                                 WHERE g.run_id = p.run_id AND g.packet_id = p.packet_id)
            """) == 0)
        #expect(try store.integer("SELECT COUNT(*) FROM packets WHERE grabbed_shares > shares") == 0)
        #expect(try store.integer("""
            SELECT COUNT(*) FROM (SELECT run_id, packet_id, member_id FROM grabs
                                  GROUP BY run_id, packet_id, member_id HAVING COUNT(*) > 1)
            """) == 0)
        #expect(try store.integer("SELECT COUNT(*) FROM grabs WHERE amount_fen < 1") == 0)
        #expect(try store.integer("""
            SELECT COUNT(*) FROM (SELECT run_id, packet_id, MIN(seq) AS low, MAX(seq) AS high, COUNT(*) AS n
                                  FROM grabs GROUP BY run_id, packet_id) WHERE low != 1 OR high != n
            """) == 0)
        #expect(try store.integer("SELECT COUNT(*) FROM grabs") > 1_000)
        // The same seed gives every engine the same money to move.
        #expect(try store.integer("SELECT COUNT(DISTINCT total) FROM (SELECT run_id, SUM(total_fen) AS total FROM packets GROUP BY run_id)") == 1)

        // A null run last, as `bench` with no options ends: the report still details the engines that paid.
        let null = try Executable("bench").run(Self.tiny + ["--engine", "null", "--db", db, "--quiet"])
        #expect(null.status == 0, "\(null.standardError)")
        let report = try Executable("hongbao").run(["report", db, "--html", db + ".html"])
        #expect(report.status == 0, "\(report.standardError)")
        #expect(report.standardOutput.contains("Fairness by grab position"))
        let detailed = report.standardOutput.split(separator: "\n").filter { $0.hasPrefix("Run ") }.map { String($0.prefix { $0 != "," }) }
        #expect(detailed == Self.engines.enumerated().map { "Run \($0.offset + 1): \($0.element)" }, "the latest audited run of each engine, not the null run")
        let html = try String(contentsOfFile: db + ".html", encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("Latency by percentile") && html.contains("luckiest"))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"), "self-contained")

        let one = try Executable("hongbao").run(["report", db, "--run", "2"])
        #expect(one.status == 0 && one.standardOutput.contains("Run 2: \(Self.engines[1])"))
    }

    @Test(arguments: [
        (["--members", "0"], "--members must be at least 3, got 0"),
        (["--packets=-5"], "--packets must be at least 1, got -5"),
        (["--packets", "-5"], "bench: error: Missing value for '--packets <packets>'"),
        (["--threads", "0"], "--threads must be in 1 ... 256, got 0"),
        (["--engine", "warp"], "Please provide one of the following: lock-free, mutex, actor, racy, journaled, redis, null"),
        (["--in-flight", "0"], "--in-flight must be in 1 ... 65536, got 0"),
        (["--sync-every", "0"], "--sync-every must be in 1 ... 60000 ms, got 0"),
        (["--journal-mode", "fast"], "Please provide one of 'durable' and 'buffered'"),
        (["--journal", "/etc/hostname"], "--journal /etc/hostname exists: a bench run starts from an empty journal"),
        (["--engine", "journaled", "--journal", "/nonexistent-hongbao-dir/j.db"], "cannot open database /nonexistent-hongbao-dir/j.db"),
        (["--redis", "redis://127.0.0.1:1", "--engine", "lock-free"], "--redis runs the Redis engine, and --engine lock-free runs in process"),
        (["--shard-timeout", "0"], "--shard-timeout must be in (0, 86400] seconds, got 0.0"),
        (["--algorithm", "coin-flip"], "coin-flip"),
        (["--rate=-1"], "--rate must be a positive number"),
        (["--duration", "0"], "--duration must be a positive number of seconds"),
        (["--db", "/nonexistent-hongbao-dir/x.db"], "cannot open database /nonexistent-hongbao-dir/x.db"),
        (["--members", "lots"], "lots"),
        (["--redis", "redis://127.0.0.1:1"], "bench: error: Redis connection refused: "),
        (["--redis", "http://nowhere"], "bench: error: --redis: http://nowhere: expected redis://"),
        (["--engine", "redis"], "bench: error: --engine redis needs --redis URL"),
        (["--batch", "0"], "--batch must be in 1 ... 4096, got 0"),
        (["--shard", "4/3", "--run-id", "x", "--redis", "redis://127.0.0.1:1"], "--shard must be K/N with 1 ≤ K ≤ N ≤ 64, got 4/3"),
        (["--shard", "1/3"], "--shard runs the Redis engine: give --redis URL"),
        (["--run-id", "x"], "--run-id names a run of several shards: give --shard K/N too"),
        (["--durable"], "--durable applies to the Redis engine: give --redis URL"),
        (["--recovery-timeout", "0"], "--recovery-timeout must be in (0, 3600] seconds, got 0.0"),
    ])
    func badInputGetsOneClearLineAndAFailingExit(_ arguments: [String], _ expected: String) throws {
        let run = try Executable("bench").run(Self.tiny + arguments + ["--quiet"])
        #expect(run.status != 0)
        #expect(run.standardError.contains(expected), "stderr: \(run.standardError)")
        #expect(run.standardError.split(separator: "\n").count == 1, "one line: \(run.standardError)")
        #expect(!run.standardError.contains("Fatal error") && !run.standardError.contains("Stack dump"))
    }

    /// `--durable` against a server without replicas is refused at once, with the reason — not after the recovery
    /// timeout, and not with a vague "0 of 1 replicas".
    @Test(.enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
    func durableWithoutReplicasIsRefusedAtOnce() throws {
        let run = try Executable("bench").run(Self.tiny + ["--redis", RedisTestServer.url!, "--durable", "--quiet",
                                                           "--db", Self.temporaryDirectory().appendingPathComponent("d.db").path])
        #expect(run.status == 1)
        #expect(run.standardError.hasPrefix("bench: error: --durable needs a replica for every master") && run.standardError.contains("has none"),
                "\(run.standardError)")
        #expect(run.standardError.split(separator: "\n").count == 1)
    }

    /// The racy engine oversells on purpose at any size with two threads: its verdict fails (exit 2), also on a
    /// small festival where, without its window, the threads rarely collided.
    @Test("bench --engine journaled: the verdict passes, the journal recovers the state served, hongbao journal reads it")
    func theJournaledEngineEndToEnd() throws {
        let directory = Self.temporaryDirectory()
        let journal = directory.appendingPathComponent("bench.journal").path
        let run = try Executable("bench").run(Self.tiny + ["--engine", "journaled", "--in-flight", "32", "--compact-after", "500",
                                                           "--journal", journal, "--db", directory.appendingPathComponent("j.db").path])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("recovery: the state recovered from the journal is the state served (400 packets compared)"))
        let read = try Executable("hongbao").run(["journal", journal])
        #expect(read.status == 0, "\(read.standardError)")
        #expect(read.standardOutput.contains("400 packets held (0 not refunded)"))
        let missing = try Executable("hongbao").run(["journal", directory.appendingPathComponent("none.journal").path])
        #expect(missing.status != 0 && missing.standardError.contains("no journal at"))
        let foreign = try Executable("hongbao").run(["journal", directory.appendingPathComponent("j.db").path])
        #expect(foreign.status != 0 && foreign.standardError.contains("is not a Hongbao journal (an SQLite database of another program)"),
                "\(foreign.standardError)")
    }

    @Test func theRacyEngineFailsItsVerdictAtSmallSizes() throws {
        let db = Self.temporaryDirectory().appendingPathComponent("racy.db").path
        let run = try Executable("bench").run(["--engine", "racy", "--members", "20000", "--packets", "2000", "--threads", "2",
                                               "--db", db, "--json", "--quiet"])
        #expect(run.status == 2, "\(run.standardError)")
        #expect(run.standardOutput.contains("\"oversold\"") && !run.standardOutput.contains("\"oversold\" : 0"), "\(run.standardOutput.prefix(2000))")
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
    func aTinyRunOnRedisPasses() throws {
        // On the cluster: in the Redis Cluster suite, which is serialised with the test that migrates a slot.
        for url in [RedisTestServer.url].compactMap({ $0 }) {
            let db = Self.temporaryDirectory().appendingPathComponent("redis.db").path
            let run = try Executable("bench").run(Self.tiny + ["--redis", url, "--batch", "16", "--db", db, "--json", "--quiet"])
            #expect(run.status == 0, "\(run.standardError)")
            let json = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
            let runs = try #require(json?["runs"] as? [[String: Any]])
            #expect(runs.count == 1)
            #expect(["redis", "redis-cluster"].contains(runs.first?["engine"] as? String ?? ""))
            let store = try ResultStore(path: db)
            #expect(try store.integer("""
                SELECT COUNT(*) FROM packets p
                WHERE p.total_fen != p.refund_fen + (SELECT COALESCE(SUM(amount_fen), 0) FROM grabs g
                                                     WHERE g.run_id = p.run_id AND g.packet_id = p.packet_id)
                """) == 0)
            #expect(try store.integer("SELECT verdict = 'pass' AND complete FROM runs") == 1)
        }
    }

    /// A password in `--redis` is used, but never stored in the results database nor printed in an error.
    @Test(.enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
    func theRedisPasswordIsNeitherStoredNorPrinted() throws {
        let server = try RedisTestServer.Owned()
        let port = server.url.split(separator: ":").last!
        let set = Process()
        set.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        set.arguments = ["-p", String(port), "CONFIG", "SET", "requirepass", "S3cretPW"]
        set.standardOutput = FileHandle.nullDevice
        try set.run()
        set.waitUntilExit()
        let db = Self.temporaryDirectory().appendingPathComponent("secret.db").path
        let run = try Executable("bench").run(Self.tiny + ["--redis", "redis://:S3cretPW@127.0.0.1:\(port)", "--db", db, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let config = try ResultStore(readingFrom: db).runs().map(\.id)
        #expect(config.count == 1)
        let stored = try ResultStore(path: db).integer("SELECT COUNT(*) FROM runs WHERE instr(config_json, 'S3cretPW') > 0")
        #expect(stored == 0)
        for bad in ["redis://:S3cretPW@127.0.0.1:0", "redis://:S3cretPW@127.0.0.1:1/x", "redis://:S3cretPW@", "http://:S3cretPW@h"] {
            let refused = try Executable("bench").run(Self.tiny + ["--redis", bad, "--db", db, "--quiet"])
            #expect(refused.status != 0 && !refused.standardError.contains("S3cretPW") && refused.standardError.contains("--redis"),
                    "\(refused.standardError)")
        }
    }

    /// A results file is untrusted: a value no run can have — a rate of 1e300, a latency of 9e18 ns, packets of
    /// 2e9 shares, a grab of 4e15 fen — is one clear line and a failing exit, in text and in HTML, never a crash, a
    /// 48 GB allocation or a chart that never ends.
    @Test(arguments: [
        ("UPDATE runs SET grabs_per_s = 1e300", "grabs_per_s = 1e+300"),
        ("UPDATE runs SET p99_ns = 9000000000000000000", "a latency of 9000000000000000000 ns"),
        ("UPDATE latency_ladder SET latency_ns = 9000000000000000000", "a latency of 9000000000000000000 ns"),
        ("UPDATE packets SET shares = 2000000000, grabbed_shares = 2000000000", "packets of 2000000000 shares"),
        ("UPDATE grabs SET amount_fen = 4000000000000000 WHERE seq = 1", "the average share"),
        ("UPDATE runs SET members = -5", "members = -5"),
    ])
    func aTamperedResultsFileIsOneClearLine(_ tamper: String, _ expected: String) throws {
        let db = Self.temporaryDirectory().appendingPathComponent("tampered.db").path
        let bench = try Executable("bench").run(Self.tiny + ["--engine", "lock-free", "--algorithm", "line-cutting", "--db", db, "--quiet"])
        #expect(bench.status == 0)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [db, tamper]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        for arguments in [["report", db], ["report", db, "--html", db + ".html"]] {
            let report = try Executable("hongbao").run(arguments)
            #expect(report.status == 1, "\(arguments): \(report.standardError)")
            #expect(report.standardError.split(separator: "\n").count == 1 && report.standardError.contains(expected),
                    "\(arguments): \(report.standardError)")
        }
    }

    @Test func aCorruptDatabaseIsReportedPlainly() throws {
        let db = Self.temporaryDirectory().appendingPathComponent("corrupt.db").path
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: db))
        let run = try Executable("bench").run(Self.tiny + ["--db", db, "--quiet"])
        #expect(run.status != 0)
        #expect(run.standardError == "bench: error: \(db) is not an SQLite database (corrupt, or another kind of file)\n")
        let report = try Executable("hongbao").run(["report", db])
        #expect(report.status != 0 && report.standardError.contains("is not an SQLite database"))
        let missing = try Executable("hongbao").run(["report", db + ".missing"])
        #expect(missing.status != 0 && missing.standardError.contains("no database at"))
    }

    @Test func aRunKilledMidwayLeavesADatabaseThatOpensWithTheRunIncomplete() throws {
        let db = Self.temporaryDirectory().appendingPathComponent("killed.db").path
        // Paced at 2,000 grabs a second (open loop), the run's 400,000-odd grabs take minutes in any build on any
        // machine: it is still running when the test kills it, however fast the engine.
        let bench = try Executable("bench").start(["--members", "20000", "--packets", "20000", "--rate", "2000",
                                                   "--engine", "lock-free", "--db", db, "--quiet"])
        var sawRun = false
        for _ in 0 ..< 3_000 where !sawRun {   // poll up to 60 s for the run's row
            usleep(20_000)
            sawRun = ((try? ResultStore(path: db).integer("SELECT COUNT(*) FROM runs")) ?? 0) > 0
        }
        #expect(sawRun && bench.process.isRunning, "the run started and was still running when killed")
        kill(bench.process.processIdentifier, SIGKILL)
        bench.process.waitUntilExit()
        #expect(bench.process.terminationReason == .uncaughtSignal)

        let store = try ResultStore(path: db)
        let check = try store.database.prepare("PRAGMA integrity_check")
        _ = try check.step()
        #expect(check.text(at: 0) == "ok")
        #expect(try store.runs().map(\.complete) == [false])
        let report = try Executable("hongbao").run(["report", db])
        #expect(report.status == 0 && report.standardOutput.contains("INCOMPLETE"))
        #expect(!report.standardOutput.contains("0 ns"), "an unfinished run shows no figures, not zeros")
        #expect(report.standardOutput.contains("the run did not finish"))
    }
}
