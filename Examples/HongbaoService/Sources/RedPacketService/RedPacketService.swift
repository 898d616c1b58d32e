import Crypto
import Foundation
import HongbaoCore
import HTTPTypes
import Hummingbird
import Metrics
import Prometheus
import RedPacketAPI

/// The red-packet API (openapi.yaml beside this package) over any engine: the routes, their errors and metrics.
///
/// Every handler awaits the engine's async side, which never blocks the cooperative pool: the in-process
/// engines answer in a few hundred nanoseconds on the calling task, the Redis engine hands its grabs to its own
/// I/O threads (combined into batches) and its other calls to a Dispatch queue. Bad input changes nothing and gets
/// one JSON error: 400 for malformed JSON or wrong types, 413 for a body over `bodyLimit`, 422 for a packet the
/// rules refuse (with `PacketSpec`'s message), 404 for an unknown packet, 503 when the backend fails.
///
/// Who may do what (with `.tokens`): every `/packets` call carries a bearer token (401 without a valid one); a
/// member sends packets (as their sender) and grabs for itself only (a body naming another member is a 403); a
/// packet is expired early by its sender or an operator; its account is read by its sender, its members and
/// operators (403 for anyone else). `/health` and `/metrics` are open. Senders are the engine's to keep
/// (`SenderTrackingGrabEngine`: in process, in the journal, in Redis); with an engine that keeps none, only
/// operators expire and read accounts.
///
/// A send with an `Idempotency-Key` header is made once: the same sender's same key with the same body answers
/// 201 with the packet the first call made (and `Idempotent-Replayed: true`); with another body, 422.
public struct RedPacketService: Sendable {
    public let engine: any AsyncGrabEngine
    /// How callers are known: bearer tokens, or none (`--insecure-dev`).
    public let authentication: Authentication
    /// True when other processes serve the same packets (a Redis engine).
    public let shared: Bool
    public let metrics: ServiceMetrics
    /// The largest request body accepted (1 MiB: a group of up to `maxMembers` members fits).
    public static let bodyLimit = 1 << 20
    /// The largest group a packet may be sent to.
    public static let maxMembers = 100_000
    /// The longest a packet may stay open: 30 days (WeChat's packets stay 24 hours).
    public static let maxExpirySeconds: Int64 = 30 * 24 * 3600

    /// How many group members one caller (its token's member; its address without tokens) may make the service
    /// store per minute.
    public let quota: MemberQuota

    /// The default of `quota`: ten million members a minute per client (100 sends of the largest group; about
    /// 40 MB a minute of sets in Redis, more in process), which a `bench-http` festival stays well under.
    public static let defaultMembersPerMinute: Int64 = 10_000_000

    public init(engine: any AsyncGrabEngine, shared: Bool, authentication: Authentication, metrics: ServiceMetrics = ServiceMetrics(),
                quota: MemberQuota = MemberQuota(perMinute: defaultMembersPerMinute)) {
        self.engine = engine
        self.authentication = authentication
        self.shared = shared
        self.metrics = metrics
        self.quota = quota
    }

    /// The router of the API.
    public func router() -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: JSONErrors())
        router.add(middleware: UnmatchedRoutes(routes: Self.routes))
        let api = router.group()
        if case .tokens(let keys) = authentication { api.add(middleware: BearerTokens(keys: keys)) }
        api.post("packets", use: create)
        api.post("packets/:id/grab", use: grab)
        api.post("packets/:id/expire", use: expire)
        api.get("packets/:id") { _, context in
            let packet = try packetID(context)
            try await authorize(context, packet, "reading the account of", membersToo: true)
            return PacketAccount(try await engine.summary(of: packet))
        }
        router.get("health") { _, _ in Health(engine: engine.name, shared: shared) }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        return router
    }

    /// Every route of the API: its path (`nil` for a path parameter) and its methods, for the 404 and 405 answers.
    static let routes: [(path: [String?], methods: [HTTPRequest.Method])] = [
        (["packets"], [.post]), (["packets", nil, "grab"], [.post]), (["packets", nil, "expire"], [.post]),
        (["packets", nil], [.get]), (["health"], [.get]), (["metrics"], [.get]),
    ]

    @Sendable func create(_ request: Request, _ context: ServiceRequestContext) async throws -> EditedResponse<CreatedPacket> {
        let body = try await decode(CreatePacket.self, from: request)
        if let expiresInS = body.expiresInS, !(1 ... Self.maxExpirySeconds).contains(expiresInS) {
            throw ServiceError(.unprocessableContent, "expires_in_s is in 1 ... \(Self.maxExpirySeconds) (30 days), got \(expiresInS)")
        }
        guard body.members.count <= Self.maxMembers else {
            throw ServiceError(.unprocessableContent, "a packet's group has at most \(Self.maxMembers) members, got \(body.members.count)")
        }
        let spec = try Self.spec(of: body)
        if let wait = quota.take(body.members.count, from: context.client) {
            throw ServiceError(.tooManyRequests, "this client may store \(quota.perMinute) group members a minute: try again in \(wait) s")
        }
        let group = Group(body.members.map(MemberID.init(rawValue:)))
        let seed = body.seed ?? UInt64.random(in: .min ... .max)
        guard let tracking = engine as? any SenderTrackingGrabEngine else {
            guard request.headers[Self.idempotencyKey] == nil else {
                throw ServiceError(.unprocessableContent, "this engine keeps no senders: it cannot honour Idempotency-Key on a send")
            }
            let id = try await engine.send(spec, to: group, seed: seed)
            metrics.packetsSent.increment()
            return EditedResponse(status: .created, response: CreatedPacket(id: id.rawValue))
        }
        // Without tokens every send is the anonymous member 0's (its keys are shared by every client).
        let origin = SendOrigin(sender: context.caller?.member ?? MemberID(0), request: try keyedSend(request, body))
        let sent = try await tracking.send(spec, to: group, seed: seed, origin: origin)
        if !sent.replayed { metrics.packetsSent.increment() }
        return EditedResponse(status: .created, headers: sent.replayed ? [Self.idempotentReplayed: "true"] : [:],
                              response: CreatedPacket(id: sent.id.rawValue))
    }

    @Sendable func grab(_ request: Request, _ context: ServiceRequestContext) async throws -> GrabAnswer {
        let packet = try packetID(context)
        let body = try await decode(GrabBody.self, from: request, emptyAs: GrabBody(member: nil))
        let member: MemberID
        switch (context.caller, body.member) {
        case (let caller?, nil): member = caller.member
        case (let caller?, let named?):
            guard named == caller.member.rawValue else {
                throw ServiceError(.forbidden, "member \(caller.member.rawValue) may grab for itself only, not for member \(named)")
            }
            member = caller.member
        case (nil, let named?): member = MemberID(named)
        case (nil, nil): throw ServiceError(.badRequest, "missing field \"member\" (without tokens the body names the member)")
        }
        let start = ContinuousClock.now
        let receipt = try await engine.grabReceipt(packet, for: member)
        metrics.grabLatency.recordNanoseconds((ContinuousClock.now - start).nanosecondsSaturated)
        let answer = GrabAnswer(receipt)
        metrics.grabs[answer.outcome]?.increment()
        return answer
    }

    /// Closes the packet. With an `Idempotency-Key` header the key is kept with the refund: a client that retries
    /// after a timeout or a 503 with the same key hears `refunded` and the amount again — so a service that pays
    /// senders on `refunded` pays exactly once — where a retry without one would hear `already_refunded`.
    @Sendable func expire(_ request: Request, _ context: ServiceRequestContext) async throws -> ExpireAnswer {
        let packet = try packetID(context)
        try await authorize(context, packet, "expiring", membersToo: false)
        guard let header = request.headers[Self.idempotencyKey] else {
            return ExpireAnswer(try await engine.expire(packet))
        }
        let key: IdempotencyKey
        do { key = try IdempotencyKey(header) } catch let error as GrabEngineError {
            throw ServiceError(.badRequest, "Idempotency-Key: \(error.detail)")
        }
        return ExpireAnswer(try await engine.expire(packet, idempotencyKey: key))
    }

    /// Refunds the engine's packets whose deadline has passed (an in-process engine: `expireDue`), and counts them
    /// in `/metrics`. The service runs it on a timer; a Redis-backed service has no sweeper (its packets' keys
    /// expire in Redis, and their refunds are the sender's `expire`). - Returns: the refunds made.
    @discardableResult
    public func sweepDue() async -> [DueRefund] {
        guard let sweeping = engine as? any DueSweepingGrabEngine else { return [] }
        let refunds = await sweeping.expireDue()
        metrics.refundsSwept.increment(by: Int64(refunds.count))
        metrics.fenSwept.increment(by: refunds.reduce(0) { $0 + $1.refund.rawValue })
        metrics.packetsHeld.record(await sweeping.packetsHeld)
        return refunds
    }

    /// The spec a request asks for. - Throws: `ServiceError` (422) naming what is wrong, or `PacketSpecError`.
    static func spec(of body: CreatePacket) throws -> PacketSpec {
        let total = Fen(body.totalFen)
        let expiry = body.expiresInS.map { Duration.seconds($0) } ?? PacketSpec.defaultExpiry
        let algorithm = body.algorithm?.algorithm ?? .doubleMeanAtGrab
        switch body.kind ?? .lucky {
        case .lucky:
            return try PacketSpec(total: total, shares: body.shares, algorithm: algorithm, expiry: expiry)
        case .equal:
            let perShare = body.shares > 0 ? Fen(body.totalFen / Int64(body.shares)) : total
            return try PacketSpec(total: total, shares: body.shares, kind: .equal(perShare: perShare), expiry: expiry)
        case .exclusive:
            guard let recipient = body.recipient else {
                throw ServiceError(.unprocessableContent, "an exclusive packet needs a \"recipient\" from its members")
            }
            return try PacketSpec(total: total, shares: body.shares, kind: .exclusive(MemberID(recipient)), expiry: expiry)
        }
    }

    // MARK: Plumbing

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!

    /// Refuses (403) a call on `packet` by anyone but an operator, its sender, or (`membersToo`) one of its
    /// members, when callers are known. An unknown packet is a 404 for anyone.
    func authorize(_ context: ServiceRequestContext, _ packet: PacketID, _ what: String, membersToo: Bool) async throws {
        guard case .tokens = authentication, let caller = context.caller else { return }
        if caller.isOperator {
            return
        }
        if let tracking = engine as? any SenderTrackingGrabEngine {
            if try await tracking.sender(of: packet) == caller.member { return }
            if membersToo, try await tracking.isMember(caller.member, of: packet) { return }
        }
        let who = membersToo ? "its sender, its members and operators" : "its sender and operators"
        throw ServiceError(.forbidden, "member \(caller.member.rawValue) may not do this: \(what) \(packet) is for \(who)")
    }

    /// The send's key and fingerprint from its `Idempotency-Key` header, or nil without one. The fingerprint is
    /// the SHA-256 of the body as decoded, re-encoded with sorted keys: spacing and key order do not make
    /// another request, any value does (a retry without a seed is the same request; the first call's seed stands).
    func keyedSend(_ request: Request, _ body: CreatePacket) throws -> KeyedSend? {
        guard let header = request.headers[Self.idempotencyKey] else { return nil }
        let key: IdempotencyKey
        do { key = try IdempotencyKey(header) } catch let error as GrabEngineError {
            throw ServiceError(.badRequest, "Idempotency-Key: \(error.detail)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return KeyedSend(key: key, fingerprint: try RequestFingerprint(Array(SHA256.hash(data: try encoder.encode(body)))))
    }

    func packetID(_ context: ServiceRequestContext) throws -> PacketID {
        guard let raw = context.parameters.get("id", as: UInt64.self) else {
            throw ServiceError(.badRequest, "a packet id is a non-negative integer, got \"\(context.parameters.get("id") ?? "")\"")
        }
        return PacketID(raw)
    }

    func decode<T: APIRequestBody>(_ type: T.Type, from request: Request, emptyAs empty: T? = nil) async throws -> T {
        let buffer = try await request.body.collect(upTo: Self.bodyLimit)
        if let empty, buffer.readableBytes == 0 { return empty }
        if let body = T.quickly(buffer.readableBytesView) { return body }
        let keys = JSONKeys(scanning: buffer.readableBytesView)
        if let key = keys.duplicate {
            throw ServiceError(.badRequest, "the key \"\(key)\" appears twice in one object")
        }
        if let unknown = keys.topLevel.first(where: { !T.fields.contains($0) }) {
            let fields = T.fields.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw ServiceError(.badRequest, "unknown field \"\(unknown)\": the body takes \(fields)")
        }
        let data = Data(buffer.readableBytesView)
        do {
            return try ServiceRequestContext.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            // Foundation reports a number out of its type's range (a negative member, say) as corrupt data at the
            // top: say what it is rather than "malformed JSON" when the JSON itself parses.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: data)) != nil {
                throw ServiceError(.badRequest, "a value out of range: \(context.debugDescription)")
            }
            throw ServiceError(.badRequest, Self.describe(error))
        }
    }

    static func status(of error: any Error) -> (HTTPResponse.Status, String) {
        switch error {
        case let error as ServiceError: (error.status, error.message)
        case let error as PacketSpecError: (.unprocessableContent, error.description)
        case let error as GrabEngineError where error.code == .unknownPacket: (.notFound, error.detail)
        case let error as GrabEngineError where error.code == .recipientNotInGroup || error.code == .emptyGroup
            || error.code == .idempotencyConflict:
            (.unprocessableContent, error.detail)
        case let error as GrabEngineError: (.serviceUnavailable, "\(error)")
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            (.contentTooLarge, "the request body is over \(bodyLimit) bytes")
        default: (.serviceUnavailable, "backend failure: \(error)")
        }
    }

    /// One line for a decoding failure: what is wrong, and where.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return names.isEmpty ? "the body" : "\"" + names.joined(separator: ".") + "\""
        }
        switch error {
        case .keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context): return "wrong type for \(path(context))"
        case .valueNotFound(_, let context): return "null for \(path(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "malformed JSON" : "invalid value for \(path(context)): \(context.debugDescription)"
        @unknown default: return "malformed JSON"
        }
    }
}

/// Every failure of a route, as one JSON error: a `ServiceError` (or Hummingbird's own `HTTPResponseError`s, such
/// as the 413 of a body over the limit) with its status, an engine's or a packet rule's error by `status(of:)`.
/// A backend failure (503) is logged, one line; nothing else is.
struct JSONErrors: RouterMiddleware {
    typealias Context = ServiceRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServiceError {
            return try error.response(from: request, context: context)
        } catch {
            let (status, message) = RedPacketService.status(of: error)
            if status == .serviceUnavailable { context.logger.error("backend failure", metadata: ["error": "\(message)"]) }
            return try ServiceError(status, message).response(from: request, context: context)
        }
    }
}

/// A refusal with its HTTP status, answered (by `JSONErrors`) as one JSON object, with `WWW-Authenticate: Bearer`
/// on a 401.
struct ServiceError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try ServiceRequestContext.encoder.encode(ErrorBody(error: message))
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The service's metrics, through swift-metrics into a Prometheus registry (`GET /metrics`): grabs by outcome,
/// grab latency (a histogram), packets sent, refunds made by the deadline sweeper (and their fen), and the packets an
/// in-process engine holds (at each sweep).
public struct ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let grabs: [GrabOutcomeName: Metrics.Counter]
    let grabLatency: Metrics.Timer
    let packetsSent: Metrics.Counter
    let refundsSwept: Metrics.Counter
    let fenSwept: Metrics.Counter
    let packetsHeld: Metrics.Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // A grab takes about a microsecond in process and tens of microseconds on Redis: buckets from 1 µs to 1 s,
        // three a decade (the library's default starts at 5 ms, where every grab would land in the first bucket).
        factory.durationHistogramBuckets["hongbao_grab_duration_seconds"] = (0 ..< 19).map { step in
            .nanoseconds(Int64([1_000, 2_500, 5_000][step % 3]) * [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000][step / 3])
        }
        grabs = Dictionary(uniqueKeysWithValues: GrabOutcomeName.allCases.map {
            ($0, Metrics.Counter(label: "hongbao_grabs_total", dimensions: [("outcome", $0.rawValue)], factory: factory))
        })
        grabLatency = Metrics.Timer(label: "hongbao_grab_duration_seconds", factory: factory)
        packetsSent = Metrics.Counter(label: "hongbao_packets_sent_total", factory: factory)
        refundsSwept = Metrics.Counter(label: "hongbao_deadline_refunds_total", factory: factory)
        fenSwept = Metrics.Counter(label: "hongbao_deadline_refunded_fen_total", factory: factory)
        packetsHeld = Metrics.Gauge(label: "hongbao_packets_held", factory: factory)
    }
}

// The answers, encoded with the context's encoder (`ServiceRequestContext.responseEncoder`).
extension CreatedPacket: ResponseEncodable {}
/// The grab's answer, the hot path's: written by hand, byte for byte what the service's `JSONEncoder` (sorted keys)
/// writes — `{"amount_fen":125,"outcome":"granted","seq":1}`, or `{"outcome":"sold_out"}` — with its headers.
extension GrabAnswer: ResponseGenerator {
    /// The answer's JSON.
    var json: String {
        var json = "{"
        if let amountFen { json += "\"amount_fen\":\(amountFen)," }
        json += "\"outcome\":\"\(outcome.rawValue)\""
        if let seq { json += ",\"seq\":\(seq)" }
        return json + "}"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ByteBuffer(string: json)
        var headers = HTTPFields()
        headers.reserveCapacity(4)   // and the server's date and server headers, added later
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}
extension ExpireAnswer: ResponseEncodable {}
extension PacketAccount: ResponseEncodable {}
extension Health: ResponseEncodable {}
extension ErrorBody: ResponseEncodable {}
