#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands the rest of this thread's time slice to the scheduler (`sched_yield`).
@usableFromInline
func yieldThread() {
    sched_yield()
}
