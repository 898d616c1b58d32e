import Synchronization

/// The baseline with a lock: each packet's ledger behind its own `Mutex`. Lookup is the same lock-free directory
/// as `LockFreeEngine`, so the two differ only in how one packet is guarded.
public final class MutexEngine: NonBlockingGrabEngine {
    public let name = "mutex"
    private let directory: PacketDirectory<LockedLedger>
    private let clock: any PacketClock

    /// - Parameters: capacity: packets over the engine's life; clock: where expiry reads the time.
    public init(capacity: Int = 1 << 24, clock: any PacketClock = SystemPacketClock()) {
        directory = PacketDirectory(capacity: capacity)
        self.clock = clock
    }

    /// Creates the packet's ledger and publishes it under a new id.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let sentAt = clock.nanoseconds
        return try directory.insert { id in
            LockedLedger(PacketLedger(plan: try PacketPlan(id: id, spec: spec, group: group, seed: seed, sentAt: sentAt)))
        }
    }

    /// One grab, under the packet's lock (held for a few dozen instructions; never across a call out).
    public func grab(_ id: PacketID, for member: MemberID) throws -> GrabOutcome {
        let now = clock.nanoseconds
        return try ledger(id).mutex.withLock { $0.grab(for: member, now: now) }
    }

    /// Closes the packet under its lock; the balance is the refund, made once.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        try ledger(id).mutex.withLock { $0.expire() }
    }

    /// The packet's account: an atomic snapshot (taken under the lock). O(shares).
    public func summary(of id: PacketID) throws -> PacketSummary {
        try ledger(id).mutex.withLock { $0.summary }
    }

    private func ledger(_ id: PacketID) throws -> LockedLedger {
        guard let ledger = directory[id] else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return ledger
    }
}

/// A ledger and the mutex that guards it (a `Mutex` is not copyable, so it lives in a class).
private final class LockedLedger: Sendable {
    let mutex: Mutex<PacketLedger>
    init(_ ledger: PacketLedger) { mutex = Mutex(ledger) }
}
