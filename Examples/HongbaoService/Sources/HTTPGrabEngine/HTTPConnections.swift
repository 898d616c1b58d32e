import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request as the engine makes it: method, path, headers, and an optional JSON body.
struct HTTPCall: Sendable {
    var method: HTTPMethod
    var path: String
    var headers: [(String, String)] = []
    var json: String?
}

/// An answer: its status and its whole body.
struct HTTPAnswer: Sendable {
    let status: HTTPResponseStatus
    let body: ByteBuffer
}

/// Keep-alive HTTP/1.1 connections to one service, spread over the event loops of one group. A call made on an
/// event loop goes out on one of that loop's own connections — written from the loop, answered on the loop, so it
/// never changes thread; a call from anywhere else takes the next connection round-robin. A connection takes
/// calls while earlier ones are in flight (HTTP/1.1 pipelining: answers come back in request order).
final class HTTPConnections: Sendable {
    let host: String
    let port: Int
    private let hostHeader: String
    /// Each loop's connections, by loop.
    private let byLoop: [ObjectIdentifier: [any Channel]]
    private let all: [any Channel]
    private let next = NIOLockedValueBox(0)

    /// Opens `perLoop` connections on each loop of `group` to `host:port`.
    /// - Throws: the connect error (refused, unreachable).
    init(host: String, port: Int, group: MultiThreadedEventLoopGroup, perLoop: Int) async throws {
        self.host = host
        self.port = port
        hostHeader = "\(host):\(port)"
        var byLoop: [ObjectIdentifier: [any Channel]] = [:], all: [any Channel] = []
        for loop in group.makeIterator() {
            for _ in 0 ..< perLoop {
                let channel = try await ClientBootstrap(group: loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // Headers are the engine's own (validated where they are made): no per-request check.
                            try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                            try channel.pipeline.syncOperations.addHandler(PipelinedCalls())
                        }
                    }
                    .connect(host: host, port: port).get()
                byLoop[ObjectIdentifier(loop), default: []].append(channel)
                all.append(channel)
            }
        }
        self.byLoop = byLoop
        self.all = all
    }

    /// Makes `call` and returns its answer. - Throws: `ChannelError` (the connection closed), or the I/O error.
    func make(_ call: HTTPCall) async throws -> HTTPAnswer {
        let channel = pick()
        let promise = channel.eventLoop.makePromise(of: HTTPAnswer.self)
        var head = HTTPRequestHead(version: .http1_1, method: call.method, uri: call.path)
        head.headers.add(name: "host", value: hostHeader)
        for (name, value) in call.headers { head.headers.add(name: name, value: value) }
        var body: ByteBuffer?
        if let json = call.json {
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: String(json.utf8.count))
            body = channel.allocator.buffer(string: json)
        } else if call.method == .POST {
            head.headers.add(name: "content-length", value: "0")
        }
        let request = PipelinedCalls.Request(head: head, body: body, answer: promise)
        // A write that fails (the connection closed: the service went away) fails the call; a promise completed
        // twice keeps its first result, so a call the handler also fails is failed once.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail($0) }
        if channel.eventLoop.inEventLoop {
            channel.writeAndFlush(request, promise: written)
        } else {
            channel.eventLoop.execute { channel.writeAndFlush(request, promise: written) }
        }
        return try await promise.futureResult.get()
    }

    /// Closes every connection.
    func close() async {
        for channel in all { try? await channel.close() }
    }

    private func pick() -> any Channel {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop, let own = byLoop[ObjectIdentifier(loop)], !own.isEmpty {
            return own[next.withLockedValue { value in defer { value &+= 1 }; return value & Int.max } % own.count]
        }
        return all[next.withLockedValue { value in defer { value &+= 1 }; return value & Int.max } % all.count]
    }
}

/// The last handler of a connection: writes each request and keeps its promise in a queue; completes the oldest
/// promise with each whole answer (HTTP/1.1 answers in request order). A closed or failed connection fails every
/// call still waiting.
private final class PipelinedCalls: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Request
    typealias OutboundOut = HTTPClientRequestPart

    struct Request: Sendable {
        let head: HTTPRequestHead
        let body: ByteBuffer?
        let answer: EventLoopPromise<HTTPAnswer>
    }

    private var waiting = CircularBuffer<EventLoopPromise<HTTPAnswer>>()
    private var status: HTTPResponseStatus = .ok
    private var body: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(request.answer)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            let answer = HTTPAnswer(status: status, body: body ?? ByteBuffer())
            body = nil
            waiting.popFirst()?.succeed(answer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
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
