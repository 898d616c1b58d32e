import HongbaoCore

/// An engine as the driver calls it — its calling convention, not its kind (that is `EngineKind`): synchronously
/// from the worker threads, asynchronously from tasks the worker threads start a chunk at a time, or in batches.
public enum DrivenEngine: Sendable {
    /// Each worker calls `grab` on its own thread.
    case synchronous(any GrabEngine)
    /// Each worker starts a chunk of tasks and waits for them.
    case asynchronous(any AsyncGrabEngine)
    /// Each worker hands its attempts to the engine `size` at a time, in one call (one round trip for Redis).
    case batched(any BatchGrabEngine, size: Int)

    /// The engine's name, with the batch size of a batched engine.
    public var name: String {
        switch self {
        case .synchronous(let engine): engine.name
        case .asynchronous(let engine): engine.name
        case .batched(let engine, let size): size > 1 ? "\(engine.name) ×\(size)" : engine.name
        }
    }

    /// The engine seen synchronously: for sending packets and auditing them from the main thread.
    public var blocking: any GrabEngine {
        switch self {
        case .synchronous(let engine): engine
        case .asynchronous(let engine): BlockingGrabEngine(engine)
        case .batched(let engine, _): engine
        }
    }
}
