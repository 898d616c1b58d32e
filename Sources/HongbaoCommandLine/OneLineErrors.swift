import ArgumentParser
import Foundation

/// Bad input is one line on standard error and a non-zero exit: `NAME: error: …`. Help and version requests
/// print as ArgumentParser prints them; an `ExitCode` thrown by `run()` (which reported its error already) exits
/// with that code and prints nothing more.
public func exitWithOneLine<Command: ParsableCommand>(_ error: any Error, command: Command.Type) -> Never {
    if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
    let code = Command.exitCode(for: error)
    if code == .success { Command.exit(withError: error) }
    // ArgumentParser's message may run over several lines (a list of valid values, a usage line, a hint): the
    // facts go on one line, the list joined; usage and help hints are dropped.
    let lines = Command.fullMessage(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") && !$0.hasPrefix("Help:") }
    var first = lines.first ?? "\(error)"
    let items = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    if !items.isEmpty { first += " " + items.joined(separator: ", ") }
    let message = first.hasPrefix("Error: ") ? "error: " + first.dropFirst("Error: ".count) : first
    FileHandle.standardError.write(Data("\(Command.configuration.commandName ?? "hongbao"): \(message)\n".utf8))
    Foundation.exit(code.rawValue)
}

/// A command's `main()` whose bad input is one line (see `exitWithOneLine`).
public func runWithOneLineErrors<Command: ParsableCommand>(_ command: Command.Type) {
    do {
        var parsed = try Command.parseAsRoot()
        try parsed.run()
    } catch {
        exitWithOneLine(error, command: command)
    }
}

/// The same for a command with an `async` `run()`.
public func runWithOneLineErrors<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    do {
        var parsed = try Command.parseAsRoot()
        if var asyncCommand = parsed as? AsyncParsableCommand { try await asyncCommand.run() } else { try parsed.run() }
    } catch {
        exitWithOneLine(error, command: command)
    }
}

/// Runs `body` — the work of a command's `run()` after its options were parsed — and turns any failure into one
/// line on standard error, `NAME: error: …`, and an exit code of 1 (thrown as `ExitCode.failure`). An `ExitCode`
/// that `body` throws (it reported its own error, or chose its exit code) goes through untouched.
public func failingWithOneLine<T>(_ name: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw oneLine(error, name: name)
    }
}

/// The same for `async` work.
public func failingWithOneLine<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw oneLine(error, name: name)
    }
}

/// Writes `error` as `NAME: error: …` (unless it is an `ExitCode`) and returns the exit code to throw.
private func oneLine(_ error: any Error, name: String) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    let message = (error as? ValidationError)?.message ?? "\(error)"
    FileHandle.standardError.write(Data("\(name): error: \(message)\n".utf8))
    return .failure
}
