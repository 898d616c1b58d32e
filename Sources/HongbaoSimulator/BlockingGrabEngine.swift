import Dispatch
import HongbaoCore

/// Drives an `AsyncGrabEngine` (e.g. `ActorEngine`) from the caller's own thread: each call starts a task and
/// blocks the thread on a semaphore until the task finishes.
///
/// Never call it from Swift concurrency's cooperative pool (a task, an actor, an async function): blocking a pool
/// thread can starve the very task it waits for. The simulator's worker threads and its main thread are not
/// pool threads.
public final class BlockingGrabEngine: GrabEngine {
    /// The engine called.
    public let base: any AsyncGrabEngine
    public var name: String { base.name }

    /// `base`, called from this thread.
    public init(_ base: any AsyncGrabEngine) { self.base = base }

    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try blockingWait { [base] in try await base.send(spec, to: group, seed: seed) }
    }
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try blockingWait { [base] in try await base.grab(packet, for: member) }
    }
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome {
        try blockingWait { [base] in try await base.expire(packet) }
    }
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try blockingWait { [base] in try await base.expire(packet, idempotencyKey: idempotencyKey) }
    }
    public func summary(of packet: PacketID) throws -> PacketSummary {
        try blockingWait { [base] in try await base.summary(of: packet) }
    }
}

/// Runs `operation` in a task and blocks this (non-pool) thread until it returns.
func blockingWait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.result = await Result { try await operation() }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// `@unchecked Sendable`: `result` is written by the task before `done.signal()` and read after `done.wait()`;
/// the semaphore orders the two.
final class ResultBox<T: Sendable>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
