#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands the rest of this thread's time slice to the scheduler (`sched_yield`).
@usableFromInline
package func yieldThread() {
    sched_yield()
}

/// Gives the processor (and, when spun long, the scheduler) to others while waiting for another thread to finish
/// a step it has started. Only retries of the same member and `summary` ever wait.
@usableFromInline
package func spinWait() {
    for _ in 0 ..< 64 { _ = SplitMix64.mix(0) }
    yieldThread()
}
