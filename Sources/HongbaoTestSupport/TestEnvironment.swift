import Foundation

/// What the tests need to know about where they run.
public enum TestEnvironment {
    /// `HONGBAO_LONG_TESTS=1` scales iteration counts up, as `SWIFT_ATOMICS_LONG_TESTS` does.
    public static let longTests = ProcessInfo.processInfo.environment["HONGBAO_LONG_TESTS"] == "1"
}
