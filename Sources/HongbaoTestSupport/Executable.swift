import Foundation

/// Runs one of the package's executables (built beside the test bundle) as a user would, capturing its output.
public struct Executable: Sendable {
    /// The built binary.
    public let url: URL

    /// The executable `name` from the same build folder as the running tests (`.build/debug`, or TSan's).
    public init(_ name: String) throws {
        let buildFolder = Bundle.main.executableURL?.deletingLastPathComponent()
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [buildFolder.appendingPathComponent(name)]
        var folder = buildFolder
        for _ in 0 ..< 4 {   // an .xctest bundle may nest the test binary a level or two down
            folder = folder.deletingLastPathComponent()
            candidates.append(folder.appendingPathComponent(name))
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw ExecutableError(description: "no \(name) beside the tests in \(buildFolder.path): run `swift build` first")
        }
        url = found
    }

    /// What a run of the binary did.
    public struct Run: Sendable {
        /// Its exit status.
        public let status: Int32
        /// What it printed on standard output.
        public let standardOutput: String
        /// What it printed on standard error.
        public let standardError: String
    }

    /// Runs to completion with these arguments. - Returns: exit status and output.
    public func run(_ arguments: [String]) throws -> Run {
        let process = try start(arguments)
        // Read both pipes at once: a child that fills one while we wait on the other would never finish.
        let errorBox = ErrorOutput()
        let drained = DispatchGroup()
        DispatchQueue.global().async(group: drained) {
            errorBox.data = process.standardError.fileHandleForReading.readDataToEndOfFile()
        }
        let output = process.standardOutput.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        let error = errorBox.data
        process.process.waitUntilExit()
        return Run(status: process.process.terminationStatus, standardOutput: String(decoding: output, as: UTF8.self),
                   standardError: String(decoding: error, as: UTF8.self))
    }

    /// Starts it in the background (for tests that kill it).
    public func start(_ arguments: [String]) throws -> (process: Process, standardOutput: Pipe, standardError: Pipe) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, output, error)
    }
}

/// A binary that could not be found or run.
public struct ExecutableError: Error, CustomStringConvertible {
    /// Why.
    public let description: String
}

/// `@unchecked Sendable`: written by one reader before `drained` is left, read after `drained.wait()`.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}
