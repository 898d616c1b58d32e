import Foundation

/// Where a lesson writes: the terminal (with colours and, with `--step`, a pause for Enter between steps) or a
/// buffer in tests.
public final class Blackboard {
    /// Whether lines are painted with ANSI colours.
    public let colors: Bool
    /// Whether `pause()` waits for Enter.
    public let stepping: Bool
    private let write: (String) -> Void
    private let waitForEnter: () -> Void

    /// A board that writes lines with `write` and, stepping, waits with `waitForEnter`.
    public init(colors: Bool, stepping: Bool, write: @escaping (String) -> Void = { print($0) },
                waitForEnter: @escaping () -> Void = { _ = readLine() })
    {
        self.colors = colors
        self.stepping = stepping
        self.write = write
        self.waitForEnter = waitForEnter
    }

    /// A lesson's title, underlined.
    public func title(_ text: String) { write(paint("\n\(text)\n" + String(repeating: "═", count: text.count), "1")) }
    /// A line of the lesson.
    public func say(_ text: String) { write(text) }
    /// A line that shows things going right (green).
    public func good(_ text: String) { write(paint(text, "32")) }
    /// A line that shows things going wrong (red).
    public func bad(_ text: String) { write(paint(text, "31")) }
    /// An aside (dim).
    public func dim(_ text: String) { write(paint(text, "2")) }

    /// The lesson's conclusion: one line, in bold.
    public func conclude(_ text: String) { write(paint("→ " + text, "1")) }

    /// With `--step`, waits for Enter (the teacher talks over the step); otherwise returns at once.
    public func pause() {
        guard stepping else { return }
        write(paint("   [Enter]", "2"))
        waitForEnter()
    }

    private func paint(_ text: String, _ code: String) -> String { colors ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
}
