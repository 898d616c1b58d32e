import ArgumentParser
import Foundation

/// Prints a parse or validation error as one line, `bench: error: …`, and exits with its code; help and version
/// requests print as ArgumentParser prints them.
func exitWithOneLine<Command: ParsableCommand>(_ error: any Error, command: Command.Type) -> Never {
    if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }   // already reported by `run()`
    let code = Command.exitCode(for: error)
    if code == .success { Command.exit(withError: error) }
    let first = Command.fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    let message = first.hasPrefix("Error: ") ? "error: " + first.dropFirst("Error: ".count) : first
    FileHandle.standardError.write(Data("\(Command.configuration.commandName ?? "bench"): \(message)\n".utf8))
    Foundation.exit(code.rawValue)
}
