import HongbaoCore

/// An async engine whose calls are cheapest made from executors of its own — an HTTP client's event loops, say,
/// where a call written from the loop that owns its connection, and resumed there when the answer is read, never
/// changes thread. The driver runs worker `index`'s callers on `callerExecutor(forWorker:)` instead of on the
/// worker's own thread (`WorkerExecutor`), which then only waits for them.
public protocol ExecutorAffineGrabEngine: AsyncGrabEngine {
    /// The executor worker `index`'s callers run on (the same one for every call with the same index).
    func callerExecutor(forWorker index: Int) -> any TaskExecutor
}
