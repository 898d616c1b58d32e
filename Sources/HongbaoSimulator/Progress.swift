import Foundation

/// Progress on standard error: a redrawn bar on a terminal, plain lines (one per phase) otherwise.
public final class ProgressReporter {
    private let isTerminal: Bool
    private let quiet: Bool
    private var phase: String?
    private var lastDraw = ContinuousClock.now
    private var phaseStart = ContinuousClock.now

    /// A reporter that prints nothing when `quiet`.
    public init(quiet: Bool) {
        self.quiet = quiet
        isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// Reports `done` of `total` in `phase` (a short label such as "lock-free: grab").
    public func update(_ phase: String, done: Int, total: Int) {
        guard !quiet else { return }
        if phase != self.phase {
            finishLine()
            self.phase = phase
            phaseStart = .now
            if !isTerminal { write("\(phase): \(total.formatted()) …\n") }
        }
        guard isTerminal else { return }
        let now = ContinuousClock.now
        guard done >= total || now - lastDraw > .milliseconds(80) else { return }
        lastDraw = now
        let width = 30
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let filled = Int(fraction * Double(width))
        let seconds = (now - phaseStart) / .seconds(1)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        write("\r\(phase) ▕\(bar)▏ \(Int(fraction * 100))% \(done.formatted())/\(total.formatted()) \(Self.rate(rate))/s \u{1B}[K")
    }

    /// Ends the current bar's line.
    public func finishLine() {
        guard !quiet, phase != nil else { return }
        if isTerminal { write("\n") }
        phase = nil
    }

    /// A line of its own (a note between phases).
    public func note(_ line: String) {
        guard !quiet else { return }
        finishLine()
        write(line + "\n")
    }

    static func rate(_ value: Double) -> String {
        switch value {
        case 1e6...: String(format: "%.2fM", value / 1e6)
        case 1e3...: String(format: "%.1fk", value / 1e3)
        default: String(format: "%.0f", value)
        }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
