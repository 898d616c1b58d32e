import Synchronization

/// Drives an `AsyncGrabEngine` (e.g. `ActorEngine`) from the caller's own threads, as the simulator's workers do:
/// each call starts a task and blocks the calling thread until it finishes.
///
/// Never call it from Swift concurrency's cooperative pool (a task, an actor, an async function): blocking a pool
/// thread can starve the task it waits for. Its cost — a task and a thread wake-up per call — is part of what it
/// measures: the price of reaching an actor from outside Swift concurrency.
public final class BlockingGrabEngine<Base: AsyncGrabEngine>: GrabEngine {
    public let base: Base
    public var name: String { base.name }

    public init(_ base: Base) { self.base = base }

    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try wait { [base] in try await base.send(spec, to: group, seed: seed) }
    }
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try wait { [base] in try await base.grab(packet, for: member) }
    }
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome {
        try wait { [base] in try await base.expire(packet) }
    }
    public func summary(of packet: PacketID) throws -> PacketSummary {
        try wait { [base] in try await base.summary(of: packet) }
    }

    private func wait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        Task { box.complete(await Result { try await operation() }) }
        return try box.wait().get()
    }
}

/// One result handed from a task to a thread that waits for it: a mutex and a futex-free spin-then-yield wait.
private final class ResultBox<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = Atomic<Bool>(false)

    func complete(_ value: Result<T, any Error>) {
        result.withLock { $0 = value }
        done.store(true, ordering: .releasing)  // release: the result is stored before it is announced
    }

    func wait() -> Result<T, any Error> {
        while !done.load(ordering: .acquiring) { yieldThread() }
        return result.withLock { $0! }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
