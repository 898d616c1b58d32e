import Foundation
import HongbaoCore
import HongbaoSimulator
import NIOCore
import NIOHTTP1
import NIOPosix
import RedPacketAPI

/// Any service that speaks the red-packet API (openapi.yaml), seen as an engine: what `bench-http` drives and
/// audits. Requests go over keep-alive HTTP/1.1 connections on SwiftNIO's event loops (`HTTPConnections`), one
/// loop per driver worker: the driver runs each worker's callers on its loop (`ExecutorAffineGrabEngine`), so a
/// grab is written, answered and recorded on one thread, with no hand-off.
///
/// Packets are numbered locally, in send order, and remember which service created them. Services that share
/// their packets (they say so in `GET /health`: a Redis engine behind them) get every call spread round-robin;
/// otherwise each packet's calls go to the service that created it.
///
/// With `tokens` every call carries a bearer token signed with them, as the service expects: a grab its member's,
/// a send its group's first member's (the sender), an expiry and an account read an operator's (member 0).
public final class HTTPGrabEngine: ExecutorAffineGrabEngine, @unchecked Sendable {
    // @unchecked Sendable: `packets` is guarded by `lock`; everything else is immutable or thread-safe.
    public let name: String
    public let urls: [String]
    public let shared: Bool
    private let group: MultiThreadedEventLoopGroup
    private let services: [HTTPConnections]
    private let executors: [EventLoopTaskExecutor]
    private let lock = NSLock()
    private var packets: [(service: Int, remote: UInt64)] = []
    private let next = ManagedCounter()
    private let tokens: TokenCache?

    /// Connects to the services at `urls` (`http://host:port`) and asks each for its health: `loops` event loops
    /// (one per driver worker), `connectionsPerLoop` keep-alive connections on each loop to each service.
    /// - Throws: `GrabEngineError` when a service cannot be reached, does not answer or is not this API.
    public init(urls: [String], loops: Int, connectionsPerLoop: Int, tokens: TokenKeys? = nil) async throws {
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.tokens = tokens.map(TokenCache.init)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        self.group = group
        executors = group.makeIterator().map(EventLoopTaskExecutor.init)
        var services: [HTTPConnections] = [], healths: [Health] = []
        do {
            for url in self.urls {
                guard let parsed = URL(string: url), let host = parsed.host, parsed.scheme == "http" else {
                    throw GrabEngineError(.invalidArgument, "\(url) is not an http://host:port URL")
                }
                do {
                    services.append(try await HTTPConnections(host: host, port: parsed.port ?? 80, group: group, perLoop: connectionsPerLoop))
                } catch {
                    throw GrabEngineError(.backend, "\(url): cannot connect: \(error)")
                }
                healths.append(try await Self.call(services.last!, .GET, "/health", body: Optional<GrabBody>.none, as: Health.self))
            }
        } catch {
            for service in services { await service.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        self.services = services
        shared = healths.allSatisfy(\.shared)
        name = "http (\(healths.first?.engine ?? "?")\(urls.count > 1 ? " ×\(urls.count)" : ""))"
    }

    /// Closes the connections and stops the event loops.
    public func shutdown() async throws {
        for service in services { await service.close() }
        try await group.shutdownGracefully()
    }

    /// Worker `index`'s callers run on event loop `index` (modulo the loops), beside their connections.
    public func callerExecutor(forWorker index: Int) -> any TaskExecutor { executors[index % executors.count] }

    /// `POST /packets` on the next service. - Returns: the packet's local id.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        let service = next.take() % urls.count
        var body = CreatePacket(totalFen: spec.total.rawValue, shares: spec.shares, members: group.members.map(\.rawValue),
                                algorithm: AlgorithmName(spec.algorithm), seed: seed,
                                expiresInS: spec.expiry.components.seconds)
        switch spec.kind {
        case .lucky: break
        case .equal: body.kind = .equal
        case .exclusive(let recipient): (body.kind, body.recipient) = (.exclusive, recipient.rawValue)
        }
        let created = try await Self.call(services[service], .POST, "/packets", body: body,
                                          bearer: bearer(group.members.first ?? MemberID(0)), as: CreatedPacket.self)
        // The group's members sign in as the packet is sent (a member holds its token before it grabs): the grab
        // phase then times the grabs, not the signing.
        tokens?.sign(group.members)
        return lock.withLock {
            packets.append((service, created.id))
            return PacketID(UInt64(packets.count - 1))
        }
    }

    /// `POST /packets/{id}/grab`.
    public func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome {
        try await grabReceipt(packet, for: member).outcome
    }

    /// `POST /packets/{id}/grab`, with the seq the service answers.
    public func grabReceipt(_ packet: PacketID, for member: MemberID) async throws -> GrabReceipt {
        let (service, remote) = try route(packet)
        // The hot path: the body is written and the answer read by hand (JSONEncoder and JSONDecoder cost more than
        // the rest of the client's work here); an answer the hand reader does not take goes to `call`'s decoder.
        let path = "/packets/\(remote)/grab"
        let call = HTTPCall(method: .POST, path: path, bearer: bearer(member), json: #"{"member":\#(member.rawValue)}"#)
        let response: HTTPAnswer
        do {
            response = try await service.make(call)
        } catch {
            throw GrabEngineError(.backend, "POST http://\(service.host):\(service.port)\(path): \(error)")
        }
        if response.status == .ok, let answer = GrabAnswer(json: response.body.readableBytesView) { return try answer.receipt() }
        return try Self.check(response, .POST, "http://\(service.host):\(service.port)\(path)", as: GrabAnswer.self).receipt()
    }

    /// `POST /packets/{id}/expire`.
    public func expire(_ packet: PacketID) async throws -> ExpiryOutcome {
        let (service, remote) = try route(packet)
        return try await Self.call(service, .POST, "/packets/\(remote)/expire", body: Optional<GrabBody>.none,
                                   bearer: bearer(nil), as: ExpireAnswer.self).expiryOutcome()
    }

    /// `POST /packets/{id}/expire` with an `Idempotency-Key` header: a retry with the key hears `refunded` again.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome {
        let (service, remote) = try route(packet)
        return try await Self.call(service, .POST, "/packets/\(remote)/expire", json: nil, bearer: bearer(nil),
                                   headers: [("Idempotency-Key", idempotencyKey.rawValue)], as: ExpireAnswer.self).expiryOutcome()
    }

    /// `GET /packets/{id}`: the service's own account of the packet, as the audit compares with what callers heard.
    public func summary(of packet: PacketID) async throws -> PacketSummary {
        let (service, remote) = try route(packet)
        let account = try await Self.call(service, .GET, "/packets/\(remote)", body: Optional<GrabBody>.none,
                                          bearer: bearer(nil), as: PacketAccount.self)
        let summary = account.summary
        return PacketSummary(packet: packet, total: summary.total, shares: summary.shares, grabs: summary.grabs,
                             balance: summary.balance, refund: summary.refund)
    }

    private func route(_ packet: PacketID) throws -> (HTTPConnections, UInt64) {
        guard let (service, remote) = lock.withLock({ packet.rawValue < UInt64(packets.count) ? packets[Int(packet.rawValue)] : nil }) else {
            throw GrabEngineError(.unknownPacket, "no \(packet) was sent through this client")
        }
        return (services[shared ? next.take() % urls.count : service], remote)
    }

    /// The bearer token of `member`'s calls (an operator's for nil), or none without tokens.
    private func bearer(_ member: MemberID?) -> String? { tokens?.token(for: member) }

    static func call<Body: Encodable, Answer: Decodable>(_ service: HTTPConnections, _ method: HTTPMethod, _ path: String,
                                                         body: Body?, bearer: String? = nil, as: Answer.Type) async throws -> Answer
    {
        try await call(service, method, path, json: try body.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) },
                       bearer: bearer, as: Answer.self)
    }

    static func call<Answer: Decodable>(_ service: HTTPConnections, _ method: HTTPMethod, _ path: String, json: String?,
                                        bearer: String? = nil, headers: [(String, String)] = [], as: Answer.Type) async throws -> Answer
    {
        let url = "http://\(service.host):\(service.port)\(path)"
        let response: HTTPAnswer
        do {
            response = try await service.make(HTTPCall(method: method, path: path, bearer: bearer, headers: headers, json: json))
        } catch {
            throw GrabEngineError(.backend, "\(method) \(url): \(error)")
        }
        return try check(response, method, url, as: Answer.self)
    }

    /// The answer's body decoded, or the error it tells of. - Throws: `GrabEngineError`.
    static func check<Answer: Decodable>(_ response: HTTPAnswer, _ method: HTTPMethod, _ url: String, as: Answer.Type) throws -> Answer {
        let data = Data(response.body.readableBytesView)
        guard response.status == .ok || response.status == .created else {
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: data).error) ?? String(decoding: data, as: UTF8.self)
            if response.status == .notFound { throw GrabEngineError(.unknownPacket, message) }
            throw GrabEngineError(.backend, "\(method) \(url): \(response.status.code) \(message)")
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: data)
        } catch {
            throw GrabEngineError(.backend, "\(method) \(url): an answer outside the API: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }
}

/// Signed tokens, kept for reuse: signing costs more than the rest of a grab's client side. At most `capacity`
/// are kept (a run with more members signs again after the cache is emptied).
final class TokenCache: @unchecked Sendable {
    // @unchecked Sendable: `signed` is guarded by `lock`.
    private let keys: TokenKeys
    private let lock = NSLock()
    private var signed: [UInt32?: String] = [:]
    static let capacity = 1 << 20
    /// Long enough for any run: a token is signed once per member.
    static let lifetime = Duration.seconds(24 * 3600)

    private let expiresAt = Int64(Date().timeIntervalSince1970) + TokenCache.lifetime.components.seconds

    init(_ keys: TokenKeys) { self.keys = keys }

    /// Signs the tokens of `members` not signed yet.
    func sign(_ members: some Collection<MemberID>) {
        let unsigned = lock.withLock { members.filter { signed[$0.rawValue] == nil } }
        let tokens = unsigned.map { keys.signedQuickly(for: $0, expiresAt: expiresAt) }
        lock.withLock {
            if signed.count + tokens.count > Self.capacity { signed.removeAll(keepingCapacity: true) }
            for (member, token) in zip(unsigned, tokens) { signed[member.rawValue] = token }
        }
    }

    /// `member`'s token, or an operator's (member 0) for nil.
    func token(for member: MemberID?) -> String {
        if let token = lock.withLock({ signed[member?.rawValue] }) { return token }
        let token = keys.signedQuickly(for: member ?? MemberID(0), role: member == nil ? .operator : nil, expiresAt: expiresAt)
        lock.withLock {
            if signed.count >= Self.capacity { signed.removeAll(keepingCapacity: true) }
            signed[member?.rawValue] = token
        }
        return token
    }
}

/// A counter for round-robin choices.
final class ManagedCounter: @unchecked Sendable {
    // @unchecked Sendable: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value = 0
    func take() -> Int { lock.withLock { defer { value &+= 1 }; return value & Int.max } }
}
