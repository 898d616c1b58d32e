import Foundation
@_spi(Harness) import HongbaoCore
@testable import HongbaoSQLite
import HongbaoTestSupport
import Synchronization
import Testing

/// The journaled engine: every acknowledged change survives a restart, exactly; the journal compacts itself;
/// ids are never issued twice; bad journals and failed writes are refused plainly.
@Suite("Journal")
struct JournalTests {
    static let group = Group(range: 1 ... 50)

    static func open(_ store: MemoryJournalStore, clock: ManualClock = ManualClock(), compactAfter: Int = 1_000_000,
                     retention: Duration = .defaultRetention) throws -> JournaledEngine
    {
        try JournaledEngine(journal: GroupCommitJournal.inMemory(store, compactAfter: compactAfter), retention: retention, clock: clock)
    }

    /// Sends a lucky, an equal and an exclusive packet to `group`, grabs some shares, refunds one with a key.
    static func history(on engine: JournaledEngine) throws -> (ids: [PacketID], told: [PacketID: [MemberID: GrabReceipt]]) {
        let specs = [
            try PacketSpec(total: 1000, shares: 10),
            try PacketSpec(total: 600, shares: 6, kind: .equal(perShare: 100)),
            try PacketSpec(total: 88, shares: 1, kind: .exclusive(7)),
            try PacketSpec(total: 5000, shares: 20, algorithm: .lineCutting),
        ]
        var ids: [PacketID] = []
        for (index, spec) in specs.enumerated() { ids.append(try engine.send(spec, to: group, seed: UInt64(index + 1))) }
        var told: [PacketID: [MemberID: GrabReceipt]] = [:]
        for id in ids {
            for raw in stride(from: UInt32(1), through: 49, by: 3) {
                let member = MemberID(raw)
                told[id, default: [:]][member] = try engine.grabReceipt(id, for: member)
            }
        }
        _ = try engine.expire(ids[0], idempotencyKey: try IdempotencyKey("refund-0"))
        _ = try engine.expire(ids[1])
        return (ids, told)
    }

    @Test("a reopened engine is the engine that answered: same shares, same winners, same refunds")
    func recoveryRebuildsEveryPacket() throws {
        let store = MemoryJournalStore()
        let engine = try Self.open(store)
        let (ids, told) = try Self.history(on: engine)
        let before = engine.heldImages()
        let summaries = try ids.map { try engine.summary(of: $0) }
        engine.close()

        let reopened = try Self.open(store)
        #expect(reopened.heldImages() == before)
        #expect(try ids.map { try reopened.summary(of: $0) } == summaries)
        for (id, answers) in told {
            for (member, receipt) in answers {
                guard case .granted(let amount) = receipt.outcome else { continue }
                let again = try reopened.grabReceipt(id, for: member)
                #expect(again.outcome == .alreadyGrabbed(amount))
                #expect(again.seq == receipt.seq)
            }
        }
        guard let refund = summaries[0].refund else {
            Issue.record("packet 0 was refunded")
            return
        }
        #expect(try reopened.expire(ids[0]) == .alreadyRefunded(refund))
        #expect(try reopened.expire(ids[0], idempotencyKey: try IdempotencyKey("refund-0")) == .refunded(refund))
        #expect(try reopened.expire(ids[0], idempotencyKey: try IdempotencyKey("another")) == .alreadyRefunded(refund))
        // A packet still open takes grabs after the restart, from the share after the last one won.
        let open = ids[3]
        let taken = try reopened.summary(of: open).grabs.count
        #expect(try reopened.grabReceipt(open, for: 50).seq == taken + 1)
        reopened.close()
    }

    @Test("a crash at any moment keeps every acknowledged grant: same amount, same seq; never half, never twice")
    func aCrashLosesNothingAcknowledged() throws {
        for round in 0 ..< 3 {
            let store = MemoryJournalStore()
            let engine = try Self.open(store)
            let spec = try PacketSpec(total: 100_000, shares: 100)
            let ids = try (0 ..< 40).map { try engine.send(spec, to: Group(range: 1 ... 300), seed: UInt64($0 + round * 100)) }
            let threads = 4
            let counts = (0 ..< threads).map { _ in Counter() }
            let stop = Atomic<Bool>(false)
            var acknowledged: [Int] = [], survivor = MemoryJournalStore()
            let logs = runThreads(threads) { thread in
                var log: [(PacketID, MemberID, GrabReceipt)] = []
                var random = SplitMix64(seed: UInt64(thread * 7 + round))
                while !stop.load(ordering: .relaxed) {
                    let id = ids[Int(random.below(UInt64(ids.count)))]
                    let member = MemberID(UInt32(1 + random.below(300)))
                    guard let receipt = try? engine.grabReceipt(id, for: member) else { break }
                    log.append((id, member, receipt))
                    counts[thread].value.store(log.count, ordering: .releasing)   // acknowledged before it is counted
                }
                return log
            } meanwhile: { _ in
                while counts.reduce(0, { $0 + $1.value.load(ordering: .acquiring) }) < 2000 + round * 1500 { usleep(100) }
                acknowledged = counts.map { $0.value.load(ordering: .acquiring) }
                survivor = store.survivor()   // what a crash now leaves: the batches written, nothing pending
                stop.store(true, ordering: .relaxed)
            }
            engine.close()

            let recovered = try Self.open(survivor)
            let accounts = try Dictionary(uniqueKeysWithValues: ids.map { ($0, try recovered.summary(of: $0)) })
            for (thread, log) in logs.enumerated() {
                for (id, member, receipt) in log.prefix(acknowledged[thread]) {
                    guard let amount = receipt.outcome.share, let seq = receipt.seq else { continue }
                    let record = accounts[id]!.grabs.first { $0.member == member }
                    #expect(record?.amount == amount && record?.seq == seq, "acknowledged grant of \(member) in \(id) lost")
                }
            }
            for (id, account) in accounts {
                #expect(Set(account.grabs.map(\.member)).count == account.grabs.count, "a member holds two shares of \(id)")
                #expect(account.grabs.map(\.seq) == Array(1 ... max(1, account.grabs.count)).prefix(account.grabs.count).map { $0 })
                #expect(account.grabs.map(\.amount).sum() + account.balance == account.total, "money of \(id) not conserved")
            }
            recovered.close()
        }
    }

    @Test("snapshots keep recovery to the packets held; forgotten packets leave the journal; ids are never reissued")
    func snapshotsCompactTheJournal() async throws {
        let store = MemoryJournalStore()
        let clock = ManualClock()
        var engine = try Self.open(store, clock: clock, compactAfter: 200, retention: .seconds(60))
        var issued = Set<PacketID>()
        let spec = try PacketSpec(total: 500, shares: 5, expiry: .seconds(10))
        for round in 0 ..< 6 {
            var ids: [PacketID] = []
            for index in 0 ..< 100 { ids.append(try await engine.send(spec, to: Self.group, seed: UInt64(index + round * 1000))) }
            #expect(issued.isDisjoint(with: ids), "an id issued twice")
            issued.formUnion(ids)
            for id in ids { _ = try await engine.grab(id, for: 3) }
            clock.advance(by: .seconds(11))
            #expect(await engine.expireDue().count == 100)
            clock.advance(by: .seconds(61))
            // Reclaims the round's packets — unless a snapshot is reading them right now (it holds reclamation
            // back meanwhile): then the next sweep does. Bounded.
            for _ in 0 ..< 2000 where engine.packetsHeld > 0 {
                _ = await engine.expireDue()
                try await Task.sleep(for: .milliseconds(1))
            }
            #expect(engine.packetsHeld == 0)
            if round % 2 == 1 {   // a restart every other round
                engine.close()
                engine = try Self.open(store, clock: clock, compactAfter: 200, retention: .seconds(60))
                #expect(engine.recoveredEntries <= 1000, "recovery replayed \(engine.recoveredEntries) entries: history, not the packets held")
            }
        }
        let last = try await engine.send(spec, to: Self.group, seed: 99)
        #expect(!issued.contains(last))
        #expect(store.counts.entries < 1200, "the journal kept \(store.counts.entries) entries of 6 × 100 forgotten packets")
        engine.close()
    }

    @Test("a reopened engine forgets each packet past its retention, whatever order its snapshot held them in")
    func retentionAfterRecovery() async throws {
        let store = MemoryJournalStore()
        let clock = ManualClock()
        let engine = try Self.open(store, clock: clock, compactAfter: 4, retention: .seconds(60))
        let spec = try PacketSpec(total: 500, shares: 5)
        let refundedLate = try await engine.send(spec, to: Self.group, seed: 1)
        let refundedEarly = try await engine.send(spec, to: Self.group, seed: 2)
        #expect(refundedLate < refundedEarly)   // a snapshot holds packets in id order: the later refund first
        _ = try await engine.expire(refundedEarly)   // at 1 s
        clock.advance(by: .seconds(30))
        _ = try await engine.expire(refundedLate)    // at 31 s
        // The four entries start a snapshot, which reads both refunds and replaces the entries.
        for _ in 0 ..< 5000 where store.counts.snapshotPackets == 0 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(store.counts.snapshotPackets == 2)
        #expect(store.counts.entries == 0)
        engine.close()
        clock.advance(by: .seconds(40))   // 71 s: the refund at 1 s is past its retention, the one at 31 s is not
        let reopened = try Self.open(store, clock: clock, retention: .seconds(60))
        #expect(reopened.packetsHeld == 1)
        await #expect(throws: GrabEngineError.self) { try await reopened.summary(of: refundedEarly) }
        #expect(try await reopened.summary(of: refundedLate).refund == 500)
        reopened.close()
    }

    @Test("a failed write fails its calls and every call after it; the journal still holds everything acknowledged")
    func aFailedWriteStopsTheEngine() throws {
        let store = MemoryJournalStore()
        let engine = try Self.open(store)
        let id = try engine.send(try PacketSpec(total: 100, shares: 10), to: Self.group, seed: 1)
        #expect(try engine.grab(id, for: 1).share != nil)
        store.failWrites(afterBatches: 0)
        #expect(throws: JournalError.self) { try engine.grab(id, for: 2) }
        #expect(throws: JournalError.self) { try engine.grab(id, for: 3) }
        #expect(throws: JournalError.self) { try engine.send(try PacketSpec(total: 100, shares: 10), to: Self.group, seed: 2) }
        engine.close()
        let reopened = try Self.open(store.survivor())
        let account = try reopened.summary(of: id)
        #expect(account.grabs.map(\.member) == [1])   // member 2's grant was never acknowledged, and is not there
        reopened.close()
    }

    @Test("a journal whose values contradict each other is refused, naming the value")
    func contradictionsAreRefused() throws {
        let store = MemoryJournalStore()
        let engine = try Self.open(store)
        let id = try engine.send(try PacketSpec(total: 100, shares: 10, kind: .equal(perShare: 10)), to: Self.group, seed: 1)
        engine.close()
        let bad: [[JournalEntry]] = [
            [.granted(id, share: 0, member: 1, amount: 11)],                                      // not the share's amount
            [.granted(id, share: 1, member: 1, amount: 10)],                                      // out of order
            [.granted(id, share: 0, member: 51, amount: 10)],                                     // not a member
            [.granted(id, share: 0, member: 1, amount: 10), .granted(id, share: 1, member: 1, amount: 10)],  // twice
            [.refunded(id, JournaledRefund(amount: 1, at: 0, key: nil))],                         // not the balance
            [.granted(PacketID(77), share: 0, member: 1, amount: 10)],                            // never sent
        ]
        for entries in bad {
            let copy = store.survivor()
            try copy.append(entries, first: 2, snapshotPart: nil)
            #expect(throws: JournalError.self) { _ = try Self.open(copy) }
        }
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    // MARK: The SQLite file

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).db").path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test("a journal file: reopened, it gives back the state; a second opener is refused while it is open")
    func theSQLiteJournal() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let engine = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: path, compactAfter: 50), clock: ManualClock())
        let (ids, _) = try Self.history(on: engine)
        let before = engine.heldImages()
        #expect(throws: JournalError.inUse(path)) { _ = try GroupCommitJournal.sqlite(path: path) }
        engine.close()
        let reopened = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: path), clock: ManualClock())
        #expect(reopened.heldImages() == before)
        #expect(try reopened.summary(of: ids[2]).grabs.map(\.member) == [7])
        reopened.close()
    }

    @Test("a journal file compacts itself: snapshots replace history, the state survives reopening, the log stays short")
    func theSQLiteJournalCompacts() async throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let clock = ManualClock()
        let journal = try GroupCommitJournal.sqlite(path: path, compactAfter: 100)
        let retention = Duration.seconds(75)
        let engine = try JournaledEngine(journal: journal, retention: retention, clock: clock)
        let spec = try PacketSpec(total: 500, shares: 5, expiry: .seconds(10))
        for round in 0 ..< 20 {
            var ids: [PacketID] = []
            for index in 0 ..< 20 { ids.append(try await engine.send(spec, to: Self.group, seed: UInt64(round * 100 + index))) }
            for id in ids { _ = try await engine.grab(id, for: MemberID(UInt32(1 + round))) }
            if round % 3 == 0 { for id in ids { _ = try await engine.expire(id) } }
            clock.advance(by: .seconds(30))
            _ = await engine.expireDue()
        }
        for _ in 0 ..< 5000 where journal.statistics.snapshots < 2 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(journal.statistics.snapshots >= 2)
        let before = engine.heldImages()
        engine.close()
        do {   // a reader of our own, closed before the journal is reopened (its read lock would keep it out)
            let rows = try SQLiteDatabase(path: path).prepare("SELECT count(*) FROM log")
            #expect(try rows.step())
            // About 1,100 batches were written (the calls are awaited one by one); the log keeps those since the
            // snapshot in force, about `compactAfter`, and the deletion of the rest trails a little behind.
            #expect(rows.int64(at: 0) < 400, "the log kept \(rows.int64(at: 0)) batches")
        }
        // The running engine forgets a packet past its retention when it next reclaims — not while a snapshot is
        // being read, which holds reclamation — and the reopened engine forgets every such packet as it opens. So
        // the packets it holds are those of `before` still within their retention: rounds 17 to 19 (refunded at
        // 541 s and 601 s), not round 16 (refunded at 511 s, due at 586 s), whether or not `before` still had it.
        let cutoff = clock.nanoseconds - retention.nanosecondsSaturated
        let retained = before.filter { image in image.refund.map { $0.at > cutoff } ?? true }
        #expect(retained.count == 60)
        let reopened = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: path), retention: retention, clock: clock)
        #expect(reopened.heldImages() == retained)
        #expect(reopened.packetsHeld == retained.count)
        reopened.close()
    }

    @Test("another program's file, a newer format and a file that is not SQLite are refused with one line")
    func foreignFilesAreRefused() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let other = try SQLiteDatabase(path: path)
        try other.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: JournalError.notAJournal("\(path) is not a Hongbao journal (an SQLite database of another program)")) {
            _ = try GroupCommitJournal.sqlite(path: path)
        }
        try other.execute("DROP TABLE t; PRAGMA application_id = \(SQLiteJournalStore.applicationID); PRAGMA user_version = 9")
        #expect(throws: JournalError.newerFormat(path: path, found: 9, supported: 1)) { _ = try GroupCommitJournal.sqlite(path: path) }
        Self.remove(path)
        try Data("not a database at all, just some text that is long enough to be read as a header".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: JournalError.notAJournal("\(path) is not a Hongbao journal (not an SQLite database)")) {
            _ = try GroupCommitJournal.sqlite(path: path)
        }
    }

    @Test("the codec refuses bytes that cannot be a batch")
    func theCodecRefusesGarbage() throws {
        let image = PacketImage(id: PacketID(1), expiresAt: 5, total: 30, perShareCap: 20, members: [1, 2, 3], amounts: [10, 20],
                                winners: [2], refund: JournaledRefund(amount: 20, at: 9, key: try IdempotencyKey("k")))
        let entries: [JournalEntry] = [.sent(image.asSent), .granted(PacketID(1), share: 0, member: 2, amount: 10),
                                       .refunded(PacketID(1), image.refund!), .packet(image)]
        let bytes = JournalCodec.encode(entries)
        var decoded: [JournalEntry] = []
        try JournalCodec.decode(bytes, what: "test") { decoded.append($0) }
        #expect(decoded == entries)
        for cut in [1, 5, bytes.count / 2, bytes.count - 1] {   // a torn batch
            #expect(throws: JournalError.self) { try JournalCodec.decode(Array(bytes.prefix(cut)), what: "test") { _ in } }
        }
        var tag = bytes
        tag[4] = 9
        #expect(throws: JournalError.self) { try JournalCodec.decode(tag, what: "test") { _ in } }
        var huge = bytes
        huge.replaceSubrange(0 ..< 4, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: JournalError.self) { try JournalCodec.decode(huge, what: "test") { _ in } }
    }
}

/// Senders and keyed sends, journaled: who sent a packet and the packet a key made survive a restart — from the
/// log and from a snapshot — so a send retried after a crash gets the packet it made, not a second one.
@Suite("Journal: senders and keyed sends")
struct JournaledSendersTests {
    static func fingerprint(_ byte: UInt8) throws -> RequestFingerprint { try RequestFingerprint([UInt8](repeating: byte, count: 32)) }

    @Test("a keyed send retried after a crash gets its packet; another body under the key is refused; senders kept")
    func keyedSendsSurviveACrash() throws {
        let store = MemoryJournalStore()
        let engine = try JournalTests.open(store)
        let spec = try PacketSpec(total: 500, shares: 5)
        let key = try IdempotencyKey("order-1")
        let origin = SendOrigin(sender: MemberID(7), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(1)))
        let first = try engine.send(spec, to: JournalTests.group, seed: 1, origin: origin)
        let plain = try engine.send(spec, to: JournalTests.group, seed: 2, origin: SendOrigin(sender: MemberID(8)))
        let anonymous = try engine.send(spec, to: JournalTests.group, seed: 3)
        #expect(!first.replayed && !plain.replayed)
        #expect(try engine.send(spec, to: JournalTests.group, seed: 9, origin: origin) == SentPacket(id: first.id, replayed: true))

        for survivor in [store.survivor()] {   // a crash: what was written, nothing pending
            let recovered = try JournalTests.open(survivor)
            #expect(recovered.packetsHeld == 3, "the replay made no packet")
            #expect(try recovered.send(spec, to: JournalTests.group, seed: 5, origin: origin) == SentPacket(id: first.id, replayed: true))
            #expect(recovered.packetsHeld == 3)
            let other = SendOrigin(sender: MemberID(7), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(2)))
            #expect { try recovered.send(spec, to: JournalTests.group, seed: 5, origin: other) } throws: { error in
                (error as? GrabEngineError)?.code == .idempotencyConflict
            }
            // Another sender's equal key is another send.
            let someoneElse = SendOrigin(sender: MemberID(9), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(1)))
            #expect(try recovered.send(spec, to: JournalTests.group, seed: 5, origin: someoneElse).replayed == false)
            #expect(try recovered.sender(of: first.id) == MemberID(7))
            #expect(try recovered.sender(of: plain.id) == MemberID(8))
            #expect(try recovered.sender(of: anonymous) == nil)
            #expect(throws: GrabEngineError.self) { try recovered.sender(of: PacketID(123_456_789)) }
        }
    }

    @Test("senders and keys come back from a snapshot too")
    func originsSurviveASnapshot() async throws {
        let store = MemoryJournalStore()
        let clock = ManualClock()
        let engine = try JournalTests.open(store, clock: clock, compactAfter: 20)
        let spec = try PacketSpec(total: 100, shares: 1)
        var sent: [(SentPacket, SendOrigin)] = []
        for index in 0 ..< 60 {
            let origin = SendOrigin(sender: MemberID(UInt32(index)),
                                    request: index % 2 == 0 ? KeyedSend(key: try IdempotencyKey("k\(index)"), fingerprint: try Self.fingerprint(UInt8(index))) : nil)
            sent.append((try await engine.send(spec, to: JournalTests.group, seed: UInt64(index), origin: origin), origin))
        }
        for _ in 0 ..< 5000 where store.counts.snapshotPackets == 0 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(store.counts.snapshotPackets > 0, "a snapshot was taken")
        engine.close()
        let reopened = try JournalTests.open(store, clock: clock, compactAfter: 20)
        for (packet, origin) in sent {
            #expect(try await reopened.sender(of: packet.id) == origin.sender)
            if origin.request != nil {
                let again = try await reopened.send(spec, to: JournalTests.group, seed: 0, origin: origin)
                #expect(again == SentPacket(id: packet.id, replayed: true))
            }
        }
    }
}
