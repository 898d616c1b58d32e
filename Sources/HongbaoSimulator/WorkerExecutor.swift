import Foundation

/// A task executor that one worker thread runs: the thread runs its caller tasks' jobs back to back. A caller
/// resumed from another thread (the journal's writer waking the calls its group commit made durable) is queued
/// here and run by this thread — no hop through the global executor's thread pool, and no wake-up while the thread
/// is busy (SwiftNIO's event loops serve as task executors the same way).
///
/// On the global executor each suspension and resumption of a caller cost microseconds of CPU in thread hand-offs,
/// and kept the journal's group commits small (measured: Benchmarks/README.md, "The journal").
final class WorkerExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `waiting` and `stopped` are read and written only under `condition` (a pthread
    // mutex and condition variable, which ThreadSanitizer sees).
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var waiting = false
    private var stopped = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        let wake = waiting
        condition.unlock()
        if wake { condition.signal() }
    }

    /// Makes `run` return once no job is queued.
    func stop() {
        condition.lock()
        stopped = true
        condition.unlock()
        condition.signal()
    }

    /// Runs queued jobs on the calling thread, a batch at a time, until `stop` and an empty queue.
    func run() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped {
                waiting = true
                condition.wait()
                waiting = false
            }
            if jobs.isEmpty {   // stopped
                condition.unlock()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
