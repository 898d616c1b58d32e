import Foundation

/// What the tests need to know about where they run.
public enum TestEnvironment {
    /// `HONGBAO_LONG_TESTS=1` scales iteration counts up, as `SWIFT_ATOMICS_LONG_TESTS` does.
    public static let longTests = ProcessInfo.processInfo.environment["HONGBAO_LONG_TESTS"] == "1"

    /// Set by `scripts/tsan.sh`. Under ThreadSanitizer the mutex engine is left out of threaded tests: on Linux,
    /// TSan does not see `Synchronization.Mutex`'s futex, so it reports every access inside `withLock` as a race —
    /// a false positive that an 8-line program with one `Mutex<[Int]>` appended to from two threads reproduces.
    public static let underThreadSanitizer = ProcessInfo.processInfo.environment["HONGBAO_TSAN"] == "1"
}
