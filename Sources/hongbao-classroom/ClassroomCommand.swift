import ArgumentParser
import Foundation
import HongbaoClassroom
import HongbaoCommandLine
import HongbaoRedis

/// `swift run hongbao-classroom`: the concurrency lessons, for a teacher in front of a class.
@main
struct ClassroomCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hongbao-classroom",
        abstract: "A concurrency lesson on red packets: the race that oversells, then each fix.",
        discussion: "Lessons: " + Classroom.lessons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ".")

    @Option(help: "Run only this lesson (1–8); default: all, in order.")
    var lesson: Int?

    @Flag(help: "Wait for Enter between steps.")
    var step = false

    @Flag(name: .customLong("no-color"), help: "No colours (also off when output is not a terminal).")
    var noColor = false

    @Option(help: "Seed of every packet split.")
    var seed: UInt64 = 2017

    @Option(help: "Redis server for lesson 6 (redis://host:port); default $HONGBAO_REDIS_URL.")
    var redis: String?

    /// Lesson 6's store: the Redis server at `url`, through the Redis engine and its grab script.
    static func redis(_ url: String) -> SharedStore {
        SharedStore(connect: { try RedisEngine(url: url) }, atomicStep: RedisEngine.grabScriptExcerpt)
    }

    func validate() throws {
        if let lesson, Classroom.lessons[lesson] == nil {
            throw ValidationError("--lesson must be 1–\(Classroom.lessons.count), got \(lesson)")
        }
    }

    /// Bad input is one line on standard error and a non-zero exit (`--help` still prints the help).
    static func main() async { await runWithOneLineErrors(Self.self) }

    func run() async throws {
        let board = Blackboard(colors: !noColor && isatty(STDOUT_FILENO) == 1, stepping: step)
        let url = redis ?? ProcessInfo.processInfo.environment["HONGBAO_REDIS_URL"]
        let classroom = Classroom(board: board, seed: seed, sharedStore: url.map(Self.redis))
        for number in lesson.map({ [$0] }) ?? Classroom.lessons.keys.sorted() {
            do {
                _ = try await classroom.run(number)
            } catch {
                FileHandle.standardError.write(Data("hongbao-classroom: error in lesson \(number): \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
