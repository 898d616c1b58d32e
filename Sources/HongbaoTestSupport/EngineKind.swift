import HongbaoCore

/// The engines a parameterised test runs its one body on.
public enum EngineKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case lockFree = "lock-free"
    case mutex
    case actor

    /// The engine, for `async` callers (every engine is one).
    public func makeAsync(clock: any PacketClock = SystemPacketClock()) -> any AsyncGrabEngine {
        switch self {
        case .lockFree: LockFreeEngine(capacity: 1 << 16, clock: clock)
        case .mutex: MutexEngine(capacity: 1 << 16, clock: clock)
        case .actor: ActorEngine(clock: clock)
        }
    }

    /// The engine for callers on their own threads; nil for the actor engine, which is async only.
    public func makeSynchronous(clock: any PacketClock = SystemPacketClock()) -> (any GrabEngine)? {
        switch self {
        case .lockFree: LockFreeEngine(capacity: 1 << 16, clock: clock)
        case .mutex: MutexEngine(capacity: 1 << 16, clock: clock)
        case .actor: nil
        }
    }

    public var description: String { rawValue }
}
