/// The in-process engines by the names `bench --engine`, the tests and the micro-benchmarks call them: the one
/// list of them. (How the simulator calls an engine — on threads, in tasks, in batches — is `DrivenEngine`.)
public enum EngineKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case lockFree = "lock-free"
    case mutex
    case actor
    /// `UnsafeRacyEngine`: oversells under contention, for teaching. Made here with a window that yields the
    /// processor between its check and its act — as a thread preempted there would — so that two or more threads
    /// grabbing the same packet oversell it at any workload size, not only when they happen to collide.
    case racy

    /// The engines that keep the invariants under any concurrency: every one but `racy`.
    public static let correct: [EngineKind] = [.lockFree, .mutex, .actor]

    /// The engine, for `async` callers (every engine is one).
    public func make(clock: any PacketClock = SystemPacketClock()) -> any AsyncGrabEngine {
        makeNonBlocking(clock: clock) ?? ActorEngine(clock: clock)
    }

    /// The engine for callers on their own threads; nil for the actor engine, which is `async` only.
    public func makeNonBlocking(clock: any PacketClock = SystemPacketClock()) -> (any NonBlockingGrabEngine)? {
        switch self {
        case .lockFree: LockFreeEngine(clock: clock)
        case .mutex: MutexEngine(clock: clock)
        case .racy: UnsafeRacyEngine(clock: clock, window: { _ in yieldThread() })
        case .actor: nil
        }
    }

    public var description: String { rawValue }
}
