import AsyncHTTPClient
import Foundation
import HongbaoCore
import NIOCore
import NIOHTTP1
import RedPacketAPI

/// Any service that speaks the red-packet API (openapi.yaml), seen as an engine: what `bench-http` drives and
/// audits. Requests go over keep-alive connections (AsyncHTTPClient's pool, up to `connections` per service).
///
/// Packets are numbered locally, in send order, and remember which service created them. Services that share
/// their packets (they say so in `GET /health`: a Redis engine behind them) get every call spread round-robin;
/// otherwise each packet's calls go to the service that created it.
///
/// With `tokens` every call carries a bearer token signed with them, as the service expects: a grab its member's,
/// a send its group's first member's (the sender), an expiry and an account read an operator's (member 0).
public final class HTTPGrabEngine: AsyncGrabEngine, @unchecked Sendable {
    // @unchecked Sendable: `packets` is guarded by `lock`; everything else is immutable or thread-safe.
    public let name: String
    public let urls: [String]
    public let shared: Bool
    private let client: HTTPClient
    private let lock = NSLock()
    private var packets: [(service: Int, remote: UInt64)] = []
    private let next = ManagedCounter()
    private let tokens: TokenCache?
    static let timeout = TimeAmount.seconds(30)

    /// Connects to the services at `urls` (`http://host:port`) and asks each for its health; up to `connections`
    /// keep-alive connections per service.
    /// - Throws: `HTTPGrabEngineError` when a service does not answer or is not this API.
    public init(urls: [String], connections: Int, tokens: TokenKeys? = nil) async throws {
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.tokens = tokens.map(TokenCache.init)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var healths: [Health] = []
        do {
            for url in self.urls {
                healths.append(try await Self.call(client, .GET, url + "/health", body: Optional<GrabBody>.none, as: Health.self))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        shared = healths.allSatisfy(\.shared)
        name = "http (\(healths.first?.engine ?? "?")\(urls.count > 1 ? " ×\(urls.count)" : ""))"
    }

    deinit { try? client.syncShutdown() }

    /// Closes the connections.
    public func shutdown() async throws { try await client.shutdown() }

    /// `POST /packets` on the next service. - Returns: the packet's local id.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        let service = next.take() % urls.count
        var body = CreatePacket(totalFen: spec.total.rawValue, shares: spec.shares, members: group.members.map(\.rawValue),
                                algorithm: spec.algorithm == .equal ? nil : spec.algorithm.rawValue, seed: seed,
                                expiresInS: spec.expiry.components.seconds)
        switch spec.kind {
        case .lucky: break
        case .equal: body.kind = "equal"
        case .exclusive(let recipient): (body.kind, body.recipient) = ("exclusive", recipient.rawValue)
        }
        let created = try await Self.call(client, .POST, urls[service] + "/packets", body: body,
                                          headers: try await authorization(group.members.first ?? MemberID(0)), as: CreatedPacket.self)
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
        let (url, remote) = try route(packet)
        // The hot path: the body is written by hand (JSONEncoder costs more than the rest of the request here).
        return try await Self.call(client, .POST, "\(url)/packets/\(remote)/grab", json: #"{"member":\#(member.rawValue)}"#,
                                   headers: try await authorization(member), as: GrabAnswer.self).receipt()
    }

    /// `POST /packets/{id}/expire`.
    public func expire(_ packet: PacketID) async throws -> ExpiryOutcome {
        let (url, remote) = try route(packet)
        return try await Self.call(client, .POST, "\(url)/packets/\(remote)/expire", body: Optional<GrabBody>.none,
                                   headers: try await authorization(nil), as: ExpireAnswer.self).expiryOutcome()
    }

    /// `POST /packets/{id}/expire` with an `Idempotency-Key` header: a retry with the key hears `refunded` again.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome {
        let (url, remote) = try route(packet)
        return try await Self.call(client, .POST, "\(url)/packets/\(remote)/expire", json: nil,
                                   headers: [("Idempotency-Key", idempotencyKey.rawValue)] + (try await authorization(nil)),
                                   as: ExpireAnswer.self).expiryOutcome()
    }

    /// `GET /packets/{id}`: the service's own account of the packet, as the audit compares with what callers heard.
    public func summary(of packet: PacketID) async throws -> PacketSummary {
        let (url, remote) = try route(packet)
        let account = try await Self.call(client, .GET, "\(url)/packets/\(remote)", body: Optional<GrabBody>.none,
                                          headers: try await authorization(nil), as: PacketAccount.self)
        let summary = account.summary
        return PacketSummary(packet: packet, total: summary.total, shares: summary.shares, grabs: summary.grabs,
                             balance: summary.balance, refund: summary.refund)
    }

    private func route(_ packet: PacketID) throws -> (String, UInt64) {
        guard let (service, remote) = lock.withLock({ packet.rawValue < UInt64(packets.count) ? packets[Int(packet.rawValue)] : nil }) else {
            throw GrabEngineError(.unknownPacket, "no \(packet) was sent through this client")
        }
        return (urls[shared ? next.take() % urls.count : service], remote)
    }

    /// The `Authorization` header of `member`'s calls (an operator's for nil), or none without tokens.
    private func authorization(_ member: MemberID?) async throws -> [(String, String)] {
        guard let tokens else { return [] }
        return [("Authorization", "Bearer " + (try await tokens.token(for: member)))]
    }

    static func call<Body: Encodable, Answer: Decodable>(_ client: HTTPClient, _ method: HTTPMethod, _ url: String,
                                                         body: Body?, headers: [(String, String)] = [], as: Answer.Type) async throws -> Answer
    {
        try await call(client, method, url, json: try body.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) },
                       headers: headers, as: Answer.self)
    }

    static func call<Answer: Decodable>(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, json: String?,
                                        headers: [(String, String)] = [], as: Answer.Type) async throws -> Answer
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw GrabEngineError(.backend, "\(method) \(url): \(error)")
        }
        let bytes = try await response.body.collect(upTo: 1 << 26)
        let data = Data(bytes.readableBytesView)
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

    init(_ keys: TokenKeys) { self.keys = keys }

    /// `member`'s token, or an operator's (member 0) for nil.
    func token(for member: MemberID?) async throws -> String {
        if let token = lock.withLock({ signed[member?.rawValue] }) { return token }
        let token = if let member {
            try await keys.token(for: member, lifetime: Self.lifetime)
        } else {
            try await keys.token(for: MemberID(0), role: .operator, lifetime: Self.lifetime)
        }
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
