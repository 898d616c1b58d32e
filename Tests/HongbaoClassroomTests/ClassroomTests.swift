import HongbaoCore
import HongbaoRedis
@testable import HongbaoClassroom
import HongbaoTestSupport
import Synchronization
import Testing

@Suite("Interleaving explorer")
struct InterleavingExplorerTests {
    /// Exact counts, the same on every machine: check-then-act has 2 steps per grabber, so 2 grabbers have
    /// C(4, 2) = 6 interleavings; all but the 2 where one grabber finishes before the other starts oversell.
    @Test func theRacyModelOversellsInExactlyTheseInterleavings() {
        let two = InterleavingExplorer(model: .racy, grabbers: 2, shares: 1, total: 100).explore()
        #expect((two.interleavings, two.oversold, two.bad) == (6, 4, 4))
        #expect(two.badTrace?.map(\.grabber) == [0, 1, 0, 1])
        #expect(two.badTrace?.last?.state == "shares left 0, balance 0 fen, paid 200 fen to 2 winners")
        let three = InterleavingExplorer(model: .racy, grabbers: 3, shares: 2, total: 100).explore()
        #expect((three.interleavings, three.bad) == (90, 84))
    }

    @Test func theLockAndCASModelsNeverGoWrong() {
        let lock = InterleavingExplorer(model: .lock, grabbers: 3, shares: 2, total: 100).explore()
        #expect((lock.interleavings, lock.bad) == (6, 0), "the lock serialises: 3! orders")
        let cas = InterleavingExplorer(model: .cas, grabbers: 3, shares: 2, total: 100).explore()
        #expect((cas.interleavings, cas.bad, cas.retries) == (498, 0, 1_140))
        let casTwo = InterleavingExplorer(model: .cas, grabbers: 2, shares: 1, total: 100).explore()
        #expect(casTwo.bad == 0 && casTwo.badTrace == nil)
    }
}

@Suite("Ticket model")
struct TicketModelTests {
    /// The shipped design, every interleaving of 2–3 actors plus the sender's expire and the deadline: money is
    /// conserved, one share per member, nothing paid after the close, the GrabOutcome rule between twin taps, and
    /// no grab waits for ever.
    @Test(arguments: [
        TicketModel(grabbers: [1, 2], closers: 1, deadline: false, shares: 1),
        TicketModel(grabbers: [1, 2, 3], closers: 1, deadline: true, shares: 2),
        TicketModel(grabbers: [1, 1], closers: 1, deadline: true, shares: 2),
        TicketModel(grabbers: [1, 1, 2], closers: 2, deadline: true, shares: 2),
        TicketModel(grabbers: [1, 1, 1], closers: 1, deadline: true, shares: 3),
    ])
    func theTicketDesignKeepsEveryRule(_ model: TicketModel) {
        let report = model.explore()
        #expect(report.endings > 0 && report.states > report.endings)
        #expect(report.bad == 0, "\(report.firstViolation ?? "")")
        #expect(report.stuck == 0)
    }

    /// The checker can fail: the engine as it was before the deadline fix (no seal) answers one member both
    /// `expired` and a share, and the checker finds that interleaving.
    @Test func theCheckerCatchesTheDeadlineRaceWithoutTheSeal() {
        let report = TicketModel(grabbers: [1, 1], closers: 0, deadline: true, shares: 2, seals: false).explore()
        #expect(report.bad > 0)
        #expect(report.firstViolation?.contains("holds a share but its taps were told") == true, "\(report.firstViolation ?? "none")")
    }
}

@Suite("Lessons")
struct LessonTests {
    /// A blackboard that keeps what is written and counts the pauses.
    final class Recorder: @unchecked Sendable {   // used from one task at a time
        var lines: [String] = []
        var pauses = 0
    }

    static func classroom(_ recorder: Recorder, stepping: Bool = false, redisURL: String? = nil) -> Classroom {
        Classroom(board: Blackboard(colors: false, stepping: stepping, write: { recorder.lines.append($0) },
                                    waitForEnter: { recorder.pauses += 1 }),
                  seed: 7, sharedStore: redisURL.map { url in
                      SharedStore(connect: { try RedisEngine(url: url) }, atomicStep: RedisEngine.grabScriptExcerpt)
                  }, effort: .quick)
    }

    static let lessons = Array(2 ... 8)

    @Test(arguments: lessons)
    func eachLessonRunsAndPrintsItsConclusion(_ lesson: Int) async throws {
        let recorder = Recorder()
        let conclusion = try await Self.classroom(recorder).run(lesson)
        #expect(recorder.lines.last == "→ " + conclusion)
        #expect(!recorder.lines.joined().contains("\u{1B}["), "no colour codes when colours are off")
        switch lesson {
        case 2: #expect(conclusion == "4 of 6 interleavings of check-then-act oversell; with a lock or a CAS, none do")
        case 3: #expect(conclusion.hasPrefix("the lock never oversold in 300 rounds"))
        case 4: #expect(conclusion.hasPrefix("lock-free never oversold in 300 rounds"))
        case 5: #expect(conclusion.hasPrefix("the actor never oversold in 30 rounds"))
        case 6: #expect(conclusion == "skipped: no Redis server reachable", "no server was given")
        case 7: #expect(conclusion.hasPrefix("same mean everywhere; double mean's spread rises from"))
        case 8: #expect(conclusion == "acknowledged by the master alone, 2 of 5 grabs were forgotten by the failover and paid again; with WAIT 1, none")
        default: Issue.record("no expectation for lesson \(lesson)")
        }
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
    func theRedisLessonRacesThroughARealServer() async throws {
        let recorder = Recorder()
        let conclusion = try await Self.classroom(recorder, redisURL: RedisTestServer.url).run(6)
        #expect(conclusion == "one Lua script call is atomic: 30 rounds through Redis, 0 oversold")
        #expect(recorder.lines.contains { $0.contains("local winners = math.min(#fresh, math.max(left, 0))") }, "the gate is on the board")
    }

    @Test func theRedisLessonSaysWhyItIsSkipped() async throws {
        let recorder = Recorder()
        let conclusion = try await Self.classroom(recorder, redisURL: "redis://127.0.0.1:1").run(6)
        #expect(conclusion == "skipped: no Redis server reachable")
        #expect(recorder.lines.contains { $0.hasPrefix("(skipped: Redis connection refused") })
    }

    /// Lesson 1 races real threads until the racy engine oversells — every time, widening the window between the
    /// check and the act if the machine is too busy for the race to show — and says how many tries it took.
    @Test func theRaceLessonAlwaysShowsTheOversell() async throws {
        let recorder = Recorder()
        let conclusion = try await Self.classroom(recorder).run(1)
        #expect(recorder.lines.last == "→ " + conclusion)
        #expect(conclusion.hasPrefix("the racy engine oversold after"), "\(conclusion)")
        let widened = recorder.lines.filter { $0.contains("Widening the window") }.count
        #expect(conclusion.contains("the window widened to") == (widened > 0), "the conclusion says whether it widened")
    }

    /// The widened window: with each grab pausing 1 ms between its check and its act, the grabs of the first
    /// rounds overlap there and the packet oversells, however busy the machine.
    @Test func aWideWindowOversells() throws {
        let window = RaceWindow()
        window.width = .milliseconds(1)
        #expect(RaceWindow.describe(window.width) == "1 ms" && RaceWindow.describe(.microseconds(10)) == "10 µs")
        let result = try RaceRounds.run(UnsafeRacyEngine(window: { _ in window.pause() }), until: .oversold, seed: 1,
                                        timeLimit: .seconds(30))
        let oversold = try #require(result.firstOversold)
        #expect(oversold.grabs.count > 5 && oversold.paid > oversold.total)
    }

    @Test func steppingPausesBetweenTheSteps() async throws {
        let recorder = Recorder()
        _ = try await Self.classroom(recorder, stepping: true).run(2)
        // The introduction, each of the 4 trace steps, and the three-grabber summary.
        #expect(recorder.pauses == 6)
    }
}

@Suite("hongbao-classroom, end to end")
struct ClassroomCommandTests {
    @Test func aLessonRunsWithoutATerminalAndWithoutColour() throws {
        let run = try Executable("hongbao-classroom").run(["--lesson", "2"])
        #expect(run.status == 0)
        #expect(run.standardOutput.contains("→ 4 of 6 interleavings of check-then-act oversell"))
        #expect(!run.standardOutput.contains("\u{1B}["), "no colours when stdout is not a terminal")
    }

    @Test(arguments: [
        (["--lesson", "9"], "hongbao-classroom: error: --lesson must be 1–8, got 9"),
        (["--lesson", "two"], "hongbao-classroom: error:"),
        (["--bogus"], "hongbao-classroom: error:"),
    ])
    func badOptionsGiveOneClearLine(_ arguments: [String], _ expected: String) throws {
        let run = try Executable("hongbao-classroom").run(arguments)
        #expect(run.status != 0)
        #expect(run.standardError.hasPrefix(expected) && run.standardError.split(separator: "\n").count == 1, "\(run.standardError)")
    }
}
