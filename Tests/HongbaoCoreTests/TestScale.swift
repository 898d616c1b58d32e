import Foundation

enum HongbaoTests {
    /// `HONGBAO_LONG_TESTS=1` scales iteration counts up, as `SWIFT_ATOMICS_LONG_TESTS` does.
    static let longTests = ProcessInfo.processInfo.environment["HONGBAO_LONG_TESTS"] == "1"
    /// Set by `scripts/tsan.sh`.
    static let underThreadSanitizer = ProcessInfo.processInfo.environment["HONGBAO_TSAN"] == "1"
}
