import NIOCore
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to one service, spread over the event loops of one group. A call made on one of
/// the loops goes out on that loop's own connections — written from the loop and answered on it, so it never
/// changes thread; a call from anywhere else is handed to the next loop, round-robin. On its loop a call takes an idle
/// connection (one request in flight on each, as wrk makes them) or, when every one is busy, the next one in turn,
/// pipelined behind the calls already in flight there (HTTP/1.1 answers come back in request order).
///
/// Requests are written and answers read as bytes (`HTTPCall.write`, `HTTPAnswerReader`), with no codec between.
final class HTTPConnections: Sendable {
    let host: String
    let port: Int
    private let loops: [(loop: any EventLoop, connections: NIOLoopBound<LoopConnections>)]
    private let loopIndex: [ObjectIdentifier: Int]
    private let channels: [any Channel]
    private let nextLoop = Atomic<Int>(0)

    /// Opens `perLoop` connections on each loop of `group` to `host:port`.
    /// - Throws: the connect error (refused, unreachable).
    init(host: String, port: Int, group: MultiThreadedEventLoopGroup, perLoop: Int) async throws {
        self.host = host
        self.port = port
        let hostHeader = "\(host):\(port)"
        var loops: [(loop: any EventLoop, connections: NIOLoopBound<LoopConnections>)] = [], channels: [any Channel] = []
        var loopIndex: [ObjectIdentifier: Int] = [:]
        for loop in group.makeIterator() {
            var opened: [any Channel] = []
            for _ in 0 ..< perLoop {
                let channel = try await ClientBootstrap(group: loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(PipelinedCalls(host: hostHeader))
                        }
                    }
                    .connect(host: host, port: port).get()
                opened.append(channel)
                channels.append(channel)
            }
            let loopChannels = opened
            let connections = try await loop.submit {
                NIOLoopBound(LoopConnections(try loopChannels.map { try $0.pipeline.syncOperations.handler(type: PipelinedCalls.self) }),
                             eventLoop: loop)
            }.get()
            loopIndex[ObjectIdentifier(loop)] = loops.count
            loops.append((loop, connections))
        }
        self.loops = loops
        self.loopIndex = loopIndex
        self.channels = channels
    }

    /// Makes `call` and returns its answer.
    /// - Throws: `ChannelError` (the connection closed), `HTTPAnswerError` (an answer outside HTTP/1.1), or the I/O error.
    func make(_ call: HTTPCall) async throws -> HTTPAnswer {
        let here = MultiThreadedEventLoopGroup.currentEventLoop.flatMap { loopIndex[ObjectIdentifier($0)] }
        let (loop, connections) = loops[here ?? Int(nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue.magnitude % UInt(loops.count))]
        return try await withCheckedThrowingContinuation { answer in
            if loop.inEventLoop {
                connections.value.send(call, answer: answer)
            } else {
                loop.execute { connections.value.send(call, answer: answer) }
            }
        }
    }

    /// Closes every connection.
    func close() async {
        for channel in channels { try? await channel.close() }
    }
}

/// One loop's connections to a service; touched on that loop only.
private final class LoopConnections {
    private let connections: [PipelinedCalls]
    private var next = 0

    init(_ connections: [PipelinedCalls]) { self.connections = connections }

    /// Writes `call` on the first idle open connection from the one after the last used, else on the next open one.
    func send(_ call: HTTPCall, answer: PipelinedCalls.Answer) {
        var busy: PipelinedCalls?
        for step in 1 ... connections.count {
            let connection = connections[(next + step) % connections.count]
            guard connection.isOpen else { continue }
            if connection.inFlight == 0 {
                next = (next + step) % connections.count
                return connection.send(call, answer: answer)
            }
            busy = busy ?? connection
        }
        guard let busy else { return answer.resume(throwing: ChannelError.ioOnClosedChannel) }
        next += 1
        busy.send(call, answer: answer)
    }
}

/// A connection's only handler: writes each call's request and keeps its continuation in a queue; resumes the
/// oldest with each whole answer (HTTP/1.1 answers in request order). A closed or failed connection, or an answer
/// outside HTTP/1.1, fails every call still waiting and every call sent to it after.
private final class PipelinedCalls: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Answer = CheckedContinuation<HTTPAnswer, any Error>

    private let host: String
    private var context: ChannelHandlerContext?
    private var waiting = CircularBuffer<Answer>()
    /// The start of an answer not all read yet.
    private var unread: ByteBuffer?
    private var failure: (any Error)?

    init(host: String) { self.host = host }

    var inFlight: Int { waiting.count }
    var isOpen: Bool { context != nil && failure == nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(ChannelError.ioOnClosedChannel)
        self.context = nil
    }

    func send(_ call: HTTPCall, answer: Answer) {
        guard let context, failure == nil else { return answer.resume(throwing: failure ?? ChannelError.ioOnClosedChannel) }
        var request = context.channel.allocator.buffer(capacity: 512)
        call.write(host: host, into: &request)
        waiting.append(answer)
        // A write that fails closes the channel: `channelInactive` then fails the call.
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var held = unread.take() {
            held.writeBuffer(&bytes)
            bytes = held
        }
        do {
            while let answer = try HTTPAnswerReader.read(from: &bytes) {
                guard let call = waiting.popFirst() else { throw HTTPAnswerError(description: "an answer to no request") }
                call.resume(returning: answer)
            }
        } catch {
            fail(error)
            context.close(promise: nil)
            return
        }
        if bytes.readableBytes > 0 { unread = bytes }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    /// Fails every waiting call with `error`, and every later one with the first error.
    private func fail(_ error: any Error) {
        if failure == nil { failure = error }
        while let call = waiting.popFirst() { call.resume(throwing: error) }
    }
}

/// A task executor that is an event loop: a job enqueued from the loop runs on it after the current work, from
/// elsewhere it is handed over. Callers on it write their requests on the loop and are resumed there.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
