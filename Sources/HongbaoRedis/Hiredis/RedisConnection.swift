import CHongbaoHiredis
import Foundation
import HongbaoCore

// The one file that calls hiredis. Every context is owned by `RedisConnection`, which frees it in deinit.

/// One connection to one Redis server: blocking, not thread-safe (one per thread, or from a pool).
final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    let address: RedisAddress

    /// Connects, then AUTH and SELECT as the address says.
    /// - Throws: `RedisEngineError` (`.connectionRefused`, `.timeout`, `.authenticationFailed`, …).
    init(_ address: RedisAddress) throws {
        self.address = address
        let connectTimeout = timeval(duration: address.connectTimeout)
        guard let context = redisConnectWithTimeout(address.host, Int32(address.port), connectTimeout) else {
            throw RedisEngineError(.connectionRefused, "cannot allocate a connection to \(address)")
        }
        self.context = context
        if context.pointee.err != 0 {
            let failure = Self.error(context, during: "connecting to \(address)")
            throw failure.code == .connectionLost ? RedisEngineError(.connectionRefused, failure.detail) : failure
        }
        redisSetTimeout(context, timeval(duration: address.commandTimeout))
        if let password = address.password {
            do {
                let auth = address.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
                _ = try command(auth).check()
            } catch let error as RedisEngineError where error.code == .serverError {
                throw RedisEngineError(.authenticationFailed, "\(address): \(error.detail)")
            }
        }
        if address.database != 0 {
            _ = try command(RedisCommand("SELECT", String(address.database))).check()
        }
    }

    deinit { redisFree(context) }

    /// True once hiredis has marked the connection failed (lost, timed out): it cannot be used again.
    var isBroken: Bool { injectedLoss || (context.map { $0.pointee.err != 0 } ?? true) }

    /// Set by an injected fault (debug builds): the connection behaves as lost.
    private var injectedLoss = false

    /// Sends one command and waits for its reply. An error *reply* is returned as `.error`, not thrown.
    /// - Throws: `RedisEngineError` when the connection fails (lost, timed out).
    func command(_ command: RedisCommand) throws -> RedisReply {
        try pipeline([command])[0]
    }

    /// Appends every command, then reads every reply (the first read flushes the buffer): one round trip.
    func pipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        guard let context, context.pointee.err == 0, !injectedLoss else {
            throw RedisEngineError(.connectionLost, "\(address): the connection was lost earlier")
        }
        #if DEBUG
        if RedisFaults.takeLostConnection(to: address) {
            injectedLoss = true
            throw RedisEngineError(.connectionLost, "\(address): connection lost (injected before sending)")
        }
        #endif
        for command in commands {
            let status = command.withArgv { count, argv, lengths in
                redisAppendCommandArgv(context, count, argv, lengths)
            }
            guard status == REDIS_OK else { throw Self.error(context, during: "sending to \(address)") }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw Self.error(context, during: "waiting for \(address)")
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReply(reply))
            freeReplyObject(raw)
        }
        #if DEBUG
        if RedisFaults.takeLostReply(of: commands) {
            injectedLoss = true
            throw RedisEngineError(.connectionLost, "\(address): connection lost (injected after the server replied)")
        }
        #endif
        return replies
    }

    private static func error(_ context: UnsafeMutablePointer<redisContext>, during what: String) -> RedisEngineError {
        let message = String(cString: hb_redis_errstr(context))
        let errnoValue = hb_errno()
        switch context.pointee.err {
        case REDIS_ERR_IO where errnoValue == EAGAIN || errnoValue == EWOULDBLOCK || errnoValue == ETIMEDOUT
            || message.contains("timed out") || message.contains("temporarily unavailable"):
            return RedisEngineError(.timeout, "\(what): timed out (\(message))")
        case REDIS_ERR_IO where message.contains("refused") || errnoValue == ECONNREFUSED:
            return RedisEngineError(.connectionRefused, "\(what): \(message)")
        case REDIS_ERR_EOF, REDIS_ERR_IO:
            return RedisEngineError(.connectionLost, "\(what): \(message.isEmpty ? "connection lost" : message)")
        case REDIS_ERR_PROTOCOL:
            return RedisEngineError(.protocolError, "\(what): \(message)")
        default:
            return RedisEngineError(.connectionLost, "\(what): \(message)")
        }
    }
}

extension RedisReply {
    /// Copies a hiredis reply (which the caller then frees).
    fileprivate init(_ reply: UnsafeMutablePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            self = .string(Self.bytes(value))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(value), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(value), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            self = .array((0 ..< value.elements).map { RedisReply(hb_reply_element(reply, $0)) })
        default:
            self = .null
        }
    }

    private static func bytes(_ value: redisReply) -> [UInt8] {
        guard let start = value.str, value.len > 0 else { return [] }
        return start.withMemoryRebound(to: UInt8.self, capacity: value.len) { Array(UnsafeBufferPointer(start: $0, count: value.len)) }
    }
}

extension RedisCommand {
    /// Calls `body` with argc, argv and argvlen pointing into this command's one contiguous buffer.
    fileprivate func withArgv<T>(_ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                var argv: [UnsafePointer<CChar>?] = []
                argv.reserveCapacity(lengths.count)
                var offset = 0
                for length in lengths {
                    argv.append(chars.baseAddress.map { UnsafePointer($0 + offset) })
                    offset += length
                }
                return argv.withUnsafeMutableBufferPointer { argvBuffer in
                    lengths.withUnsafeBufferPointer { lengthBuffer in
                        body(Int32(lengths.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                    }
                }
            }
        }
    }
}

extension timeval {
    fileprivate init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

#if DEBUG
/// Faults injected at the choke point, in debug builds only (tests): what the engine does when a reply is lost.
enum RedisFaults {
    private static let lostReplies = AtomicLock<[[UInt8]]>([])
    /// The address whose connections are counted, and the pipelines to run on them before the one whose
    /// connection is lost; nil: none is.
    private static let callsBeforeLoss = AtomicLock<(address: RedisAddress, left: Int)?>(nil)

    /// The `n`-th pipeline from now (1: the next one) sent to `address` finds its connection lost before anything
    /// is sent — once. Connections to other addresses (another database, another server: other tests running at
    /// the same time) neither count nor fail.
    static func loseConnection(onCall n: Int, to address: RedisAddress) {
        precondition(n >= 1, "calls are counted from 1")
        callsBeforeLoss.withLock { $0 = (address, n - 1) }
    }

    /// Whether a `loseConnection` has yet to fire.
    static var connectionLossPending: Bool { callsBeforeLoss.withLock { $0 != nil } }

    static func takeLostConnection(to address: RedisAddress) -> Bool {
        callsBeforeLoss.withLock { armed in
            guard let (target, left) = armed, target == address else { return false }
            armed = left == 0 ? nil : (target, left - 1)
            return left == 0
        }
    }

    /// The next pipeline that contains a command with `marker` among its arguments runs on the server, and then
    /// its connection is lost before the replies reach the caller — once.
    static func loseReply(ofCommandContaining marker: String) {
        lostReplies.withLock { $0.append(Array(marker.utf8)) }
    }

    static func takeLostReply(of commands: [RedisCommand]) -> Bool {
        lostReplies.withLock { markers in
            guard !markers.isEmpty else { return false }
            for (index, marker) in markers.enumerated() where commands.contains(where: { $0.contains(marker) }) {
                markers.remove(at: index)
                return true
            }
            return false
        }
    }
}

extension RedisCommand {
    fileprivate func contains(_ marker: [UInt8]) -> Bool {
        var offset = 0
        for length in lengths {
            if bytes[offset ..< offset + length].elementsEqual(marker) { return true }
            offset += length
        }
        return false
    }
}
#endif
