import Foundation

/// The Redis servers the tests use: the one `scripts/test` starts (`HONGBAO_REDIS_URL`), the cluster it starts
/// (`HONGBAO_REDIS_CLUSTER_URL`), and servers a test starts and kills itself (fault tests).
public enum RedisTestServer {
    /// The test server from `HONGBAO_REDIS_URL`, if the test command started one.
    public static var url: String? { ProcessInfo.processInfo.environment["HONGBAO_REDIS_URL"] }
    /// The test cluster's seeds from `HONGBAO_REDIS_CLUSTER_URL`.
    public static var clusterURL: String? { ProcessInfo.processInfo.environment["HONGBAO_REDIS_CLUSTER_URL"] }
    /// Whether a test server was given.
    public static var isAvailable: Bool { url != nil }
    /// Whether a test cluster was given.
    public static var clusterIsAvailable: Bool { clusterURL != nil }

    /// A redis-server of the test's own on a free loopback port, with AOF (fsync always) in its own folder.
    public final class Owned {
        /// Its port.
        public private(set) var port: Int
        /// Its data directory.
        public let directory: URL
        private var process: Process?
        nonisolated(unsafe) private static var nextPort = 21_000 + Int(getpid() % 5_000) * 2

        /// Starts a server of its own on a free port.
        public init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("hongbao-redis-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            port = 0
            for _ in 0 ..< 20 {   // a port another process holds makes the server exit: try the next
                port = Self.takePort()
                if (try? start()) != nil { return }
            }
            throw ExecutableError(description: "could not start redis-server on any port near \(port)")
        }

        deinit {
            kill()
            try? FileManager.default.removeItem(at: directory)
        }

        /// The server's URL.
        public var url: String { "redis://127.0.0.1:\(port)" }

        /// Starts (or restarts) the server on the same port and folder, replaying its AOF.
        public func start() throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.redisServer)
            process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                                 "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no",
                                 "--logfile", directory.appendingPathComponent("redis.log").path]
            try process.run()
            self.process = process
            for _ in 0 ..< 200 {
                guard process.isRunning else { break }
                if Self.answers(port) { return }
                usleep(25_000)
            }
            kill()
            throw ExecutableError(description: "redis-server on port \(port) did not start")
        }

        /// SIGKILL: no shutdown, no final save.
        public func kill() {
            guard let process, process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
        }

        static var redisServer: String {
            ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
                ?? "/usr/bin/redis-server"
        }

        static let portLock = NSLock()

        static func takePort() -> Int {
            portLock.lock()
            defer { portLock.unlock() }
            nextPort += 1
            return nextPort
        }

        /// Whether a Redis server answers PING on 127.0.0.1:port (asked with redis-cli).
        static func answers(_ port: Int) -> Bool {
            let ping = Process()
            ping.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
            ping.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "ping"]
            let output = Pipe()
            ping.standardOutput = output
            ping.standardError = FileHandle.nullDevice
            guard (try? ping.run()) != nil else { return false }
            let answer = output.fileHandleForReading.readDataToEndOfFile()
            ping.waitUntilExit()
            return String(decoding: answer, as: UTF8.self).contains("PONG")
        }
    }
}
