import Foundation
@_spi(Harness) import HongbaoCore
import Histogram
import Synchronization

/// How the driver paces the grabs.
public enum LoadSchedule: Sendable, Equatable {
    /// As fast as the engine answers; each grab's latency is its own call.
    case closed
    /// Grab i falls due at start + i / rate, and its latency counts from then, not from when it was sent
    /// (wrk2's correction for coordinated omission): a stalled engine shows as latency, not as a lower rate.
    case open(perSecond: Double)
}

/// Drives an engine with a workload from N threads and measures every grab.
///
/// Implementation notes: packets are sent first, in send order, from one thread (timed on their own). Then the
/// worker threads, released together, take chunks of 64 attempts in due order from an atomic cursor, so hot
/// packets are raced from every thread at once. Each worker keeps its own HdrHistogram (3 significant digits)
/// and its own per-attempt results; they are merged after the run, so the grab path shares nothing but the
/// engine and the cursor.
public struct Driver: Sendable {
    /// Worker threads.
    public var threads: Int
    /// Closed loop, or open loop at a rate.
    public var schedule: LoadSchedule
    /// Stop taking new grabs after this long; the rest are not run.
    public var timeLimit: Duration?
    /// A grab that starts later than this after it fell due counts as late (open loop only).
    public var lateAfter: Duration = .milliseconds(1)
    /// Grabs in flight at once per worker thread, for an async engine (a remote service: one per connection).
    public var inFlight = 1

    /// A driver of `threads` workers.
    public init(threads: Int, schedule: LoadSchedule = .closed, timeLimit: Duration? = nil) {
        self.threads = threads
        self.schedule = schedule
        self.timeLimit = timeLimit
    }

    static let chunk = 64
    static let highestLatency: UInt64 = 60_000_000_000   // 60 s in ns

    /// Sends every packet, then runs every attempt. `progress(done, total)` is called from the calling thread
    /// about ten times a second while the grabs run.
    /// - Throws: the first error an engine call threw (a lost Redis connection, say); the run stops there.
    /// With a `shard`, only its packets are sent (the others' ids come from the rendezvous) and the grab phase
    /// starts and ends together with the other shards; `workload` is then the shard's part (`Workload.part(of:)`).
    public func run(_ workload: Workload, on target: DrivenEngine, shard: Shard? = nil,
                    progress: (_ phase: String, _ done: Int, _ total: Int) -> Void = { _, _, _ in }) throws -> RunMeasurement
    {
        let engine = target.blocking
        let sendStart = ContinuousClock.now
        let toSend = workload.packets.indices.filter { shard?.sends(packet: $0) ?? true }
        let sent: [PacketID]
        if let batchEngine = target.batchEngine {
            sent = try sendInParallel(toSend, of: workload, on: batchEngine, progress: progress)
        } else {
            var ids: [PacketID] = []
            ids.reserveCapacity(toSend.count)
            for (done, index) in toSend.enumerated() {
                let packet = workload.packets[index]
                ids.append(try engine.send(packet.spec, to: workload.population.group(Int(packet.group)), seed: packet.seed))
                if done % 65_536 == 0 { progress("send", done, toSend.count) }
            }
            sent = ids
        }
        let sendTime = ContinuousClock.now - sendStart
        progress("send", toSend.count, toSend.count)
        let packetIDs = try shard.map { shard in
            try shard.rendezvous.exchange(sent: Array(zip(toSend, sent)).map { (index: $0.0, id: $0.1) }, packets: workload.packets.count)
        } ?? sent
        try shard?.rendezvous.arrive(at: "grab")

        let shared = SharedRun(packetIDs: packetIDs, attempts: workload.attempts)
        var wallStart: Int64 = 0, start = ContinuousClock.now
        let results = runThreads(threads) { [self] worker in
            if case .asynchronous(let engine) = target {
                workAsynchronously(shared, engine: engine, worker: worker)
            } else {
                [work(shared, target: target)]
            }
        } meanwhile: { running in
            wallStart = Self.wallMilliseconds()
            start = shared.start()
            while !running.finished(within: .milliseconds(100)) {
                progress("grab", min(shared.cursor.load(ordering: .relaxed), workload.attempts.count), workload.attempts.count)
            }
        }
        let elapsed = ContinuousClock.now - start
        let wallEnd = Self.wallMilliseconds()
        progress("grab", workload.attempts.count, workload.attempts.count)
        if let failure = shared.failure.value { throw failure }
        try shard?.rendezvous.arrive(at: "audit")   // every shard's grabs are done before anyone expires a packet
        var measurement = RunMeasurement(merging: results.flatMap { $0 }, packetIDs: packetIDs,
                                         attempts: workload.attempts.count, sendTime: sendTime, grabTime: elapsed)
        measurement.grabWallMilliseconds = wallStart ... max(wallStart, wallEnd)
        return measurement
    }

    /// Milliseconds since 1970: when a phase ran, comparable across processes and hosts (as their clocks are).
    static func wallMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    private func work(_ shared: SharedRun, target: DrivenEngine) -> WorkerResult {
        var result = WorkerResult()
        let chunkSize: Int = if case .batched(_, let size) = target { max(1, size) } else { Self.chunk }
        let start = shared.startInstant
        let deadline = timeLimit.map { start + $0 }
        let total = shared.attempts.count
        while !shared.stop.load(ordering: .relaxed) {
            let first = shared.cursor.add(chunkSize, ordering: .relaxed).oldValue  // relaxed: only uniqueness matters
            guard first < total else { break }
            if let deadline, ContinuousClock.now >= deadline { break }
            let chunk = first ..< min(first + chunkSize, total)
            result.chunks.append((first, chunk.count))
            switch target {
            case .batched(let engine, _):
                // The batch goes when its last grab falls due; each grab's latency counts from its own due time.
                if let due = dueTime(of: chunk.upperBound - 1, start: start) { waitUntil(due) }
                let requests = chunk.map { index in
                    let attempt = shared.attempts[index]
                    return GrabRequest(packet: shared.packetIDs[Int(attempt.packet)], member: attempt.member)
                }
                let sent = ContinuousClock.now
                do {
                    let outcomes = try engine.grab(requests)
                    let end = ContinuousClock.now
                    for (index, outcome) in zip(chunk, outcomes) {
                        result.record(outcome, sent: sent, end: end, due: dueTime(of: index, start: start), lateAfter: lateAfter)
                    }
                } catch let error as GrabEngineError where error.code == .unknownPacket {
                    // A sent packet the store no longer holds (lost in a failover): the batch again, one grab at a
                    // time (a grab that ran answers with the same share), so the others are answered and the lost
                    // packet's attempts recorded as gone; the audit counts what was lost.
                    var recorded = 0
                    do {
                        for (index, request) in zip(chunk, requests) {
                            let one = ContinuousClock.now
                            do {
                                let outcome = try engine.grab([request])[0]
                                result.record(outcome, sent: one, end: .now, due: dueTime(of: index, start: start), lateAfter: lateAfter)
                            } catch let error as GrabEngineError where error.code == .unknownPacket {
                                result.recordGone()
                            }
                            recorded += 1
                        }
                    } catch {
                        shared.fail(error)
                        result.recordNotRun(chunk.count - recorded)
                        return result
                    }
                } catch {
                    shared.fail(error)
                    result.recordNotRun(chunk.count)
                    return result
                }
            case .synchronous(let engine):
                for index in chunk {
                    let due = dueTime(of: index, start: start)
                    if let due { waitUntil(due) }
                    let attempt = shared.attempts[index]
                    let sent = ContinuousClock.now
                    do {
                        let outcome = try engine.grab(shared.packetIDs[Int(attempt.packet)], for: attempt.member)
                        result.record(outcome, sent: sent, end: .now, due: due, lateAfter: lateAfter)
                    } catch let error as GrabEngineError where error.code == .unknownPacket {
                        result.recordGone()   // a sent packet the engine no longer holds: counted by the audit
                    } catch {
                        shared.fail(error)
                        result.recordNotRun(chunk.upperBound - index)
                        return result
                    }
                }
            case .asynchronous:
                preconditionFailure("asynchronous engines run in callers (workAsynchronously)")
            }
        }
        return result
    }

    /// An async engine's worker: `inFlight` callers, each a task that takes chunks of attempts from the cursor
    /// and awaits its grabs one after another — `inFlight` calls in flight per worker thread, and no task made per
    /// grab. The callers run on this thread, which serves as their task executor (`WorkerExecutor`); each keeps its
    /// own results. An `ExecutorAffineGrabEngine` names the executor instead, and this thread waits.
    private func workAsynchronously(_ shared: SharedRun, engine: any AsyncGrabEngine, worker: Int) -> [WorkerResult] {
        let start = shared.startInstant
        let deadline = timeLimit.map { start + $0 }
        let total = shared.attempts.count
        let chunkSize = 16
        let workerExecutor = WorkerExecutor()
        let executor = (engine as? any ExecutorAffineGrabEngine)?.callerExecutor(forWorker: worker) ?? workerExecutor
        let results = WriteOnce<[WorkerResult]>()
        Task(executorPreference: executor) { [self] in
            let all = await withTaskGroup(of: WorkerResult.self) { callers in
                for _ in 0 ..< inFlight {
                    callers.addTask(executorPreference: executor) {
                        var result = WorkerResult(histogram: false)
                        while !shared.stop.load(ordering: .relaxed) {
                            let first = shared.cursor.add(chunkSize, ordering: .relaxed).oldValue  // relaxed: uniqueness
                            guard first < total else { break }
                            if let deadline, ContinuousClock.now >= deadline { break }
                            let chunk = first ..< min(first + chunkSize, total)
                            result.chunks.append((first, chunk.count))
                            for index in chunk {
                                let due = dueTime(of: index, start: start)
                                if let due, due > .now { try? await Task.sleep(until: due, clock: .continuous) }
                                let attempt = shared.attempts[index]
                                let sent = ContinuousClock.now
                                do {
                                    let outcome = try await engine.grab(shared.packetIDs[Int(attempt.packet)], for: attempt.member)
                                    result.record(outcome, sent: sent, end: .now, due: due, lateAfter: lateAfter)
                                } catch let error as GrabEngineError where error.code == .unknownPacket {
                                    result.recordGone()
                                } catch {
                                    shared.fail(error)
                                    result.recordNotRun(chunk.upperBound - index)
                                    return result
                                }
                            }
                        }
                        return result
                    }
                }
                var all: [WorkerResult] = []
                for await result in callers { all.append(result) }
                return all
            }
            results.publish(all)
            workerExecutor.stop()
        }
        workerExecutor.run()   // runs the callers, or (when they run on the engine's executor) waits for their end
        return results.value!
    }

    static let sendBatch = 256

    /// Sends the packets at `indices` from all the worker threads, `sendBatch` packets per call (one round trip per node for
    /// a remote engine): ids come back in workload order.
    private func sendInParallel(_ indices: [Int], of workload: Workload, on engine: any BatchGrabEngine,
                                progress: (String, Int, Int) -> Void) throws -> [PacketID]
    {
        let count = indices.count
        let chunks = (count + Self.sendBatch - 1) / Self.sendBatch
        let cells = (0 ..< chunks).map { _ in WriteOnce<[PacketID]>() }
        let shared = SharedRun(packetIDs: [], attempts: [])
        runThreads(threads) { _ in
            while !shared.stop.load(ordering: .relaxed) {
                let chunk = shared.cursor.add(1, ordering: .relaxed).oldValue  // relaxed: only uniqueness matters
                guard chunk < chunks else { return }
                let range = chunk * Self.sendBatch ..< min(count, (chunk + 1) * Self.sendBatch)
                do {
                    cells[chunk].publish(try engine.send(range.map { position in
                        let packet = workload.packets[indices[position]]
                        return OutgoingPacket(packet.spec, to: workload.population.group(Int(packet.group)), seed: packet.seed)
                    }))
                } catch {
                    shared.fail(error)
                }
            }
        } meanwhile: { running in
            while !running.finished(within: .milliseconds(100)) {
                progress("send", min(shared.cursor.load(ordering: .relaxed), chunks) * Self.sendBatch, count)
            }
        }
        if let failure = shared.failure.value { throw failure }
        return cells.flatMap { $0.value! }
    }

    /// When attempt `index` falls due in the open loop (nil in the closed loop).
    private func dueTime(of index: Int, start: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard case .open(let rate) = schedule else { return nil }
        return start + .nanoseconds(Int64(Double(index) * 1e9 / rate))
    }

    /// Sleeps while the wait is long, then spins the last 200 µs (sleep overshoots by tens of µs).
    private func waitUntil(_ due: ContinuousClock.Instant) {
        while true {
            let wait = due - ContinuousClock.now
            if wait <= .zero { return }
            if wait > .microseconds(200) { Thread.sleep(forTimeInterval: (wait - .microseconds(150)) / .seconds(1)) }
        }
    }
}

/// One grab as the driver saw it: outcome, sent, answered, due (open loop).
typealias Timing = (GrabOutcome, ContinuousClock.Instant, ContinuousClock.Instant, ContinuousClock.Instant?)

/// What one run of the driver measured, merged over the workers.
public struct RunMeasurement: Sendable {
    /// Every packet's id, in workload order.
    public let packetIDs: [PacketID]
    /// When the grab phase ran, in milliseconds since 1970 (to merge shards' runs).
    public var grabWallMilliseconds: ClosedRange<Int64> = 0 ... 0
    /// Per attempt (due order): its `GrabCode` raw value; `.notRun` for attempts past a time limit.
    public let codes: [UInt8]
    /// Per attempt: the amount in fen the caller was told it holds (granted or already grabbed), else 0.
    public let amounts: [UInt32]
    /// Per attempt: latency in ns, saturated at `UInt32.max` (4.3 s; the histogram keeps the exact value).
    public let latencies: [UInt32]
    /// Every attempt's latency (ns).
    public let histogram: Histogram<UInt64>
    /// How long sending took.
    public let sendTime: Duration
    /// How long the grab phase took.
    public let grabTime: Duration
    /// Grabs that started late (open loop).
    public let late: Int
    /// Attempts that ran (fewer than the workload's if a time limit stopped the run).
    public let attemptsRun: Int

    init(merging workers: [WorkerResult], packetIDs: [PacketID], attempts: Int, sendTime: Duration, grabTime: Duration) {
        var codes = [UInt8](repeating: GrabCode.notRun.rawValue, count: attempts)
        var latencies = [UInt32](repeating: 0, count: attempts)
        var amounts = [UInt32](repeating: 0, count: attempts)
        var histogram = Histogram<UInt64>(highestTrackableValue: Driver.highestLatency, numberOfSignificantValueDigits: .three)
        var late = 0, run = 0
        for worker in workers {
            var offset = 0
            for (first, size) in worker.chunks {
                let count = min(size, worker.codes.count - offset)
                for k in 0 ..< count {
                    codes[first + k] = worker.codes[offset + k]
                    latencies[first + k] = worker.latencies[offset + k]
                    amounts[first + k] = worker.amounts[offset + k]
                }
                offset += count
            }
            run += worker.codes.lazy.filter { $0 != GrabCode.notRun.rawValue }.count
            late += worker.late
            if let counted = worker.histogram { histogram.add(counted) }
            for latency in worker.uncounted { _ = histogram.record(latency) }
        }
        self.codes = codes
        self.latencies = latencies
        self.amounts = amounts
        self.histogram = histogram
        self.packetIDs = packetIDs
        self.sendTime = sendTime
        self.grabTime = grabTime
        self.late = late
        self.attemptsRun = run
    }

    /// What the caller of `attempt` was told; nil for an attempt that did not run.
    public func outcome(of attempt: Int) -> GrabOutcome? {
        GrabCode(rawValue: codes[attempt])?.outcome(amount: Fen(Int64(amounts[attempt])))
    }

    /// How many attempts were told `code`.
    public func count(_ code: GrabCode) -> Int { codes.lazy.filter { $0 == code.rawValue }.count }
}

struct WorkerResult: Sendable {
    /// (first attempt, count) of each chunk taken, in order.
    var chunks: [(Int, Int)] = []
    var codes: [UInt8] = []
    var amounts: [UInt32] = []
    var latencies: [UInt32] = []
    var late = 0
    /// The latencies' histogram; nil for an async caller (a histogram is ~0.5 MB, and there are thousands of
    /// callers): its exact latencies are then kept in `uncounted` and counted when the run is merged.
    var histogram: Histogram<UInt64>?
    var uncounted: [UInt64] = []

    init(histogram: Bool = true) {
        self.histogram = histogram
            ? Histogram<UInt64>(highestTrackableValue: Driver.highestLatency, numberOfSignificantValueDigits: .three) : nil
    }

    /// One grab: its latency counts from when it fell due (open loop) or from when it was sent (closed loop).
    mutating func record(_ outcome: GrabOutcome, sent: ContinuousClock.Instant, end: ContinuousClock.Instant,
                         due: ContinuousClock.Instant?, lateAfter: Duration)
    {
        let from = due ?? sent
        let latency = UInt64(min(max(0, (end - from).nanosecondsSaturated), Int64(Driver.highestLatency)))
        if let due, sent - due > lateAfter { late += 1 }
        if histogram != nil { _ = histogram!.record(max(1, latency)) } else { uncounted.append(max(1, latency)) }
        codes.append(GrabCode(outcome).rawValue)
        amounts.append(UInt32(clamping: outcome.share?.rawValue ?? 0))
        latencies.append(UInt32(min(latency, UInt64(UInt32.max))))
    }

    /// An attempt answered "unknown packet" for a packet that was sent.
    mutating func recordGone() {
        codes.append(GrabCode.gone.rawValue)
        amounts.append(0)
        latencies.append(0)
    }

    /// Attempts of the current chunk that did not run (the run failed).
    mutating func recordNotRun(_ count: Int) {
        codes.append(contentsOf: repeatElement(GrabCode.notRun.rawValue, count: count))
        amounts.append(contentsOf: repeatElement(0, count: count))
        latencies.append(contentsOf: repeatElement(0, count: count))
    }
}

/// State the workers share: the attempts, the cursor, and the first failure.
final class SharedRun: Sendable {
    let packetIDs: [PacketID]
    let attempts: [Workload.Attempt]
    let cursor = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    /// The first failure: the worker that flips `failed` publishes it (no lock: TSan sees the atomics).
    let failed = Atomic<Bool>(false)
    let failure = WriteOnce<any Error>()
    /// The run's start, as nanoseconds after `origin` (0 until the main thread sets it).
    private let startOffset = Atomic<Int64>(0)
    private let origin = ContinuousClock.now

    init(packetIDs: [PacketID], attempts: [Workload.Attempt]) {
        self.packetIDs = packetIDs
        self.attempts = attempts
    }

    /// Marks now as the run's start; returns it.
    func start() -> ContinuousClock.Instant {
        let offset = max(1, (ContinuousClock.now - origin).nanosecondsSaturated)
        startOffset.store(offset, ordering: .releasing)
        return origin + .nanoseconds(offset)
    }

    /// The run's start, waiting for the main thread to set it right after it releases the barrier.
    var startInstant: ContinuousClock.Instant {
        while true {
            let offset = startOffset.load(ordering: .acquiring)
            if offset != 0 { return origin + .nanoseconds(offset) }
            sched_yield()
        }
    }

    func fail(_ error: any Error) {
        if failed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            failure.publish(error)
        }
        stop.store(true, ordering: .relaxed)
    }
}
