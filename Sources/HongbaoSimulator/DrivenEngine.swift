import HongbaoCore

/// An engine as the driver calls it — its calling convention, not its kind (that is `EngineKind`): synchronously
/// from the worker threads, asynchronously from `inFlight` caller tasks per worker thread, or in batches.
public enum DrivenEngine: Sendable {
    /// Each worker calls `grab` on its own thread.
    case synchronous(any GrabEngine)
    /// Each worker runs `inFlight` caller tasks, each awaiting one grab after another.
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
        case .asynchronous(let engine): (engine as? any GrabEngine) ?? BlockingGrabEngine(engine)
        case .batched(let engine, _): engine
        }
    }

    /// The engine's batch side, if it has one: packets are then sent and audited many in one call (for a
    /// journaled engine, one group commit each, not one per packet).
    public var batchEngine: (any BatchGrabEngine)? {
        switch self {
        case .synchronous(let engine): engine as? any BatchGrabEngine
        case .asynchronous(let engine): engine as? any BatchGrabEngine
        case .batched(let engine, _): engine
        }
    }
}
