import Foundation
import HongbaoCore
import Hummingbird
import HummingbirdTesting
import RedPacketAPI
@testable import RedPacketService
import Synchronization
import Testing

/// The API end to end through the router, on the in-process engine: the happy path, and hostile input that must
/// get one JSON error and change nothing.
@Suite("Red-packet service")
struct RedPacketServiceTests {
    static func app(quota: MemberQuota = MemberQuota(perMinute: RedPacketService.defaultMembersPerMinute)) -> (some ApplicationProtocol, RedPacketService) {
        let service = RedPacketService(engine: LockFreeEngine(), shared: false, authentication: .insecureDevelopment, quota: quota)
        return (Application(router: service.router()), service)
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
    }

    @Test func sendGrabRetrySellOutExpireAndAccount() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let created = try await client.execute(uri: "/packets", method: .post, body: Self.body(
                #"{"total_fen": 300, "shares": 2, "members": [1, 2, 3], "algorithm": "line-cutting", "seed": 42}"#))
            #expect(created.status == .created)
            let id = try Self.decode(CreatedPacket.self, created).id
            let expected = RedPacket.split(try PacketSpec(total: 300, shares: 2, algorithm: .lineCutting), seed: 42)
            var answers: [GrabAnswer] = []
            for member in [1, 2, 1, 3, 9] {
                let response = try await client.execute(uri: "/packets/\(id)/grab", method: .post, body: Self.body(#"{"member": \#(member)}"#))
                #expect(response.status == .ok)
                answers.append(try Self.decode(GrabAnswer.self, response))
            }
            #expect(answers.map(\.outcome) == [.granted, .granted, .alreadyGrabbed, .soldOut, .notMember])
            #expect(answers.map(\.amountFen) == [expected[0].rawValue, expected[1].rawValue, expected[0].rawValue, nil, nil])
            #expect(answers.map(\.seq) == [1, 2, 1, nil, nil])
            let account = try Self.decode(PacketAccount.self, try await client.execute(uri: "/packets/\(id)", method: .get))
            #expect(account.grabs.map(\.member) == [1, 2] && account.balanceFen == 0 && account.refundFen == nil)
            let raw = String(buffer: try await client.execute(uri: "/packets/\(id)", method: .get).body)
            #expect(raw.contains(#""refund_fen":null"#), "refund_fen is null, not left out: \(raw)")
            #expect(account.luckiest == (expected[0] >= expected[1] ? 1 : 2))
            let first = try await client.execute(uri: "/packets/\(id)/expire", method: .post)
            #expect(try Self.decode(ExpireAnswer.self, first).outcome == .refunded)
            let again = try Self.decode(ExpireAnswer.self, try await client.execute(uri: "/packets/\(id)/expire", method: .post))
            #expect(again.outcome == .alreadyRefunded && again.refundFen == 0)
            let health = try Self.decode(Health.self, try await client.execute(uri: "/health", method: .get))
            #expect(health.status == "ok" && health.engine == "lock-free" && !health.shared)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"hongbao_grabs_total{outcome="granted"} 2"#), "\(metrics)")
            #expect(metrics.contains("hongbao_packets_sent_total 1") && metrics.contains("hongbao_grab_duration_seconds_bucket"))
            #expect(metrics.contains(#"hongbao_grab_duration_seconds_bucket{le="0.0001"}"#), "buckets below a millisecond: \(metrics)")
        }
    }

    /// A clock the test moves: a packet's deadline passes without waiting.
    final class MovableClock: PacketClock {
        let now = Synchronization.Atomic<Int64>(0)
        var nanoseconds: Int64 { now.load(ordering: .relaxed) }
    }

    /// The service's sweeper refunds a packet whose deadline passed that no one expired — once, however often it
    /// runs — and counts the refund and its fen in `/metrics`; the packet's account then shows the refund.
    @Test func theSweeperRefundsPacketsPastTheirDeadlineOnce() async throws {
        let clock = MovableClock()
        let service = RedPacketService(engine: LockFreeEngine(clock: clock), shared: false, authentication: .insecureDevelopment,
                                       quota: MemberQuota(perMinute: RedPacketService.defaultMembersPerMinute))
        try await Application(router: service.router()).test(.router) { client in
            let created = try await client.execute(uri: "/packets", method: .post, body: Self.body(
                #"{"total_fen": 500, "shares": 5, "members": [1, 2, 3]}"#))
            let id = try Self.decode(CreatedPacket.self, created).id
            _ = try await client.execute(uri: "/packets/\(id)/grab", method: .post, body: Self.body(#"{"member": 1}"#))
            #expect(await service.sweepDue().isEmpty)
            clock.now.store(Duration.seconds(24 * 3600).nanosecondsSaturated, ordering: .relaxed)
            let refunds = await service.sweepDue()
            #expect(refunds.count == 1 && refunds[0].packet.rawValue == id && refunds[0].refund > .zero)
            #expect(await service.sweepDue().isEmpty)
            let account = try Self.decode(PacketAccount.self, try await client.execute(uri: "/packets/\(id)", method: .get))
            #expect(account.refundFen == refunds.first?.refund.rawValue)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("hongbao_deadline_refunds_total 1"), "\(metrics)")
            #expect(metrics.contains("hongbao_packets_held 1"), "refunded, and kept for its retention: \(metrics)")
            #expect(metrics.contains("hongbao_deadline_refunded_fen_total \(refunds.first?.refund.rawValue ?? -1)"))
        }
    }

    /// A client whose expire timed out retries with its Idempotency-Key and hears `refunded` again, with the
    /// amount; another key, or none, hears `already_refunded`; a malformed key is a 400 and closes nothing.
    @Test func anExpiryRetriedWithItsIdempotencyKeyHearsRefunded() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let created = try await client.execute(uri: "/packets", method: .post, body: Self.body(
                #"{"total_fen": 500, "shares": 5, "members": [1, 2, 3]}"#))
            let id = try Self.decode(CreatedPacket.self, created).id
            let bad = try await client.execute(uri: "/packets/\(id)/expire", method: .post, headers: [.init("Idempotency-Key")!: "has space"])
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("Idempotency-Key"))
            for _ in 0 ..< 2 {
                let answer = try Self.decode(ExpireAnswer.self, try await client.execute(
                    uri: "/packets/\(id)/expire", method: .post, headers: [.init("Idempotency-Key")!: "pay-sender-\(id)"]))
                #expect(answer.outcome == .refunded && answer.refundFen == 500)
            }
            let other = try Self.decode(ExpireAnswer.self, try await client.execute(
                uri: "/packets/\(id)/expire", method: .post, headers: [.init("Idempotency-Key")!: "another"]))
            #expect(other.outcome == .alreadyRefunded && other.refundFen == 500)
            let none = try Self.decode(ExpireAnswer.self, try await client.execute(uri: "/packets/\(id)/expire", method: .post))
            #expect(none.outcome == .alreadyRefunded)
        }
    }

    @Test func equalAndExclusivePackets() async throws {
        let (app, _) = Self.app()
        try await app.test(.router) { client in
            let equal = try await client.execute(uri: "/packets", method: .post, body: Self.body(
                #"{"total_fen": 300, "shares": 3, "members": [1, 2, 3], "kind": "equal"}"#))
            let id = try Self.decode(CreatedPacket.self, equal).id
            let grab = try Self.decode(GrabAnswer.self, try await client.execute(uri: "/packets/\(id)/grab", method: .post, body: Self.body(#"{"member": 2}"#)))
            #expect(grab.amountFen == 100)
            let exclusive = try await client.execute(uri: "/packets", method: .post, body: Self.body(
                #"{"total_fen": 5200, "shares": 1, "members": [1, 2, 3], "kind": "exclusive", "recipient": 3}"#))
            let only = try Self.decode(CreatedPacket.self, exclusive).id
            let other = try Self.decode(GrabAnswer.self, try await client.execute(uri: "/packets/\(only)/grab", method: .post, body: Self.body(#"{"member": 1}"#)))
            #expect(other.outcome == .notMember)
        }
    }

    /// Hostile input: one JSON error each, with the right status, and nothing changed.
    @Test(arguments: [
        ("POST", "/packets", "", 400, "malformed JSON"),
        ("POST", "/packets", "{not json", 400, "malformed JSON"),
        ("POST", "/packets", #"{"total_fen": "100", "shares": 2, "members": [1, 2]}"#, 400, "wrong type for \"total_fen\""),
        ("POST", "/packets", #"{"shares": 2, "members": [1, 2]}"#, 400, "missing field \"total_fen\""),
        ("POST", "/packets", #"{"total_fen": 99999999999999999999999, "shares": 2, "members": [1, 2]}"#, 400, ""),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, -2]}"#, 400, ""),
        ("POST", "/packets", #"{"total_fen": 100.5, "shares": 2, "members": [1, 2]}"#, 400, ""),
        ("POST", "/packets", #"{"total_fen": -100, "shares": 2, "members": [1, 2]}"#, 422, "amount must be at least 1 fen"),
        ("POST", "/packets", #"{"total_fen": 1, "shares": 2, "members": [1, 2]}"#, 422, "cannot give each of 2 shares"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 0, "members": [1, 2]}"#, 422, "shares must be at least 1"),
        ("POST", "/packets", #"{"total_fen": 100000000, "shares": 2, "members": [1, 2]}"#, 422, "exceeds 2 share(s)"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": []}"#, 422, "empty group"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "kind": "huge"}"#, 400, "invalid value for \"kind\""),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "algorithm": "equal"}"#, 400, "invalid value for \"algorithm\""),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 1, "members": [1, 2], "kind": "exclusive"}"#, 422, "needs a \"recipient\""),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 1, "members": [1, 2], "kind": "exclusive", "recipient": 7}"#, 422, "not in its group"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "expires_in_s": -5}"#, 422, "expires_in_s is in 1 ... 2592000"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "expires_in_s": 2592001}"#, 422, "expires_in_s is in 1 ... 2592000"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "knd": "equal"}"#, 400, "unknown field \"knd\""),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 1, "members": [1, 2], "kind": "exclusive", "recipient": -4}"#, 400, "a value out of range"),
        ("POST", "/packets/0/grab", #"{"member": 1, "for": 2}"#, 400, "unknown field \"for\""),
        ("POST", "/packets/abc/grab", #"{"member": 1}"#, 400, "a packet id is a non-negative integer"),
        ("POST", "/packets/-1/grab", #"{"member": 1}"#, 400, "a packet id is a non-negative integer"),
        ("POST", "/packets/77/grab", #"{"member": 1}"#, 404, "no packet 77"),
        ("POST", "/packets/0/grab", #"{"member": "one"}"#, 400, "wrong type for \"member\""),
        ("POST", "/packets/0/grab", "{}", 400, "missing field \"member\" (without tokens"),
        ("GET", "/packets/77", "", 404, "no packet 77"),
        ("POST", "/packets/77/expire", "", 404, "no packet 77"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "total_fen": 9}"#, 400, "the key \"total_fen\" appears twice"),
        ("POST", "/packets", #"{"total_fen": 100, "shares": 2, "members": [1, 2], "\u0073hares": 1}"#, 400, "the key \"shares\" appears twice"),
        ("POST", "/packets/0/grab", #"{"member": 1, "member": 2}"#, 400, "the key \"member\" appears twice"),
        ("DELETE", "/packets/0", "", 405, "DELETE is not allowed on /packets/0: GET"),
        ("PUT", "/packets", "", 405, "PUT is not allowed on /packets: POST"),
        ("GET", "/nowhere", "", 404, "no route GET /nowhere"),
    ])
    func hostileInputIsRefusedPlainly(_ method: String, _ uri: String, _ body: String, _ status: Int, _ message: String) async throws {
        let (app, service) = Self.app()
        try await app.test(.router) { client in
            // One packet exists (id 0), so that a refused grab could be seen to change it.
            _ = try await client.execute(uri: "/packets", method: .post, body: Self.body(#"{"total_fen": 100, "shares": 1, "members": [1, 2]}"#))
            let response = try await client.execute(uri: uri, method: HTTPRequest.Method(method)!, body: Self.body(body))
            #expect(Int(response.status.code) == status, "\(String(buffer: response.body))")
            let error = try Self.decode(ErrorBody.self, response).error
            #expect((message.isEmpty || error.contains(message)) && !error.isEmpty && !error.contains("\n"), "\(error)")
        }
        let untouched = try await service.engine.summary(of: PacketID(0))
        #expect(untouched.grabs.isEmpty && untouched.refund == nil)
        await #expect(throws: GrabEngineError.self) { _ = try await service.engine.summary(of: PacketID(1)) }
    }

    /// A client that has stored its minute's worth of group members is refused (429, with when to try again) and
    /// stores nothing more; grabs are not counted; another client is not affected.
    @Test func aClientOverItsMemberQuotaIsRefused() async throws {
        let quota = MemberQuota(perMinute: 250)
        let (app, service) = Self.app(quota: quota)
        let hundred = "[" + (1 ... 100).map(String.init).joined(separator: ",") + "]"
        try await app.test(.router) { client in
            for _ in 0 ..< 2 {
                let sent = try await client.execute(uri: "/packets", method: .post, body: Self.body(#"{"total_fen": 100, "shares": 1, "members": \#(hundred)}"#))
                #expect(sent.status == .created)
            }
            let over = try await client.execute(uri: "/packets", method: .post, body: Self.body(#"{"total_fen": 100, "shares": 1, "members": \#(hundred)}"#))
            #expect(over.status == .tooManyRequests)
            #expect(try Self.decode(ErrorBody.self, over).error.contains("250 group members a minute"))
            let grab = try await client.execute(uri: "/packets/0/grab", method: .post, body: Self.body(#"{"member": 5}"#))
            #expect(grab.status == .ok)
        }
        await #expect(throws: GrabEngineError.self) { _ = try await service.engine.summary(of: PacketID(2)) }
        #expect(quota.take(250, from: "another client") == nil)
        #expect(quota.take(100, from: "local") != nil, "the first client's bucket holds 50")
        #expect(MemberQuota(perMinute: 0).take(1_000_000, from: "anyone") == nil, "0: no limit")
    }

    /// A million members is over the body limit (413); a group over the member cap is refused (422).
    @Test func hugeBodiesAreRefused() async throws {
        let (app, service) = Self.app()
        try await app.test(.router) { client in
            let million = "[" + (1 ... 1_000_000).map(String.init).joined(separator: ",") + "]"
            let huge = try await client.execute(uri: "/packets", method: .post,
                                                body: Self.body(#"{"total_fen": 100, "shares": 1, "members": \#(million)}"#))
            #expect(huge.status == .contentTooLarge)
            #expect(try Self.decode(ErrorBody.self, huge).error.contains("over \(RedPacketService.bodyLimit) bytes"))
            let many = "[" + (1 ... RedPacketService.maxMembers + 1).map(String.init).joined(separator: ",") + "]"
            let tooMany = try await client.execute(uri: "/packets", method: .post,
                                                   body: Self.body(#"{"total_fen": 100, "shares": 1, "members": \#(many)}"#))
            #expect(tooMany.status == .unprocessableContent)
        }
        await #expect(throws: GrabEngineError.self) { _ = try await service.engine.summary(of: PacketID(0)) }
    }
}

/// The API's names for kinds, algorithms and outcomes are the engines': every name maps to one, and back.
@Suite("API names")
struct APINamesTests {
    /// The load generator's hand reader of grab answers agrees with `JSONDecoder` on everything the service writes,
    /// and takes nothing else.
    @Test func theHandReaderOfGrabAnswersAgreesWithTheDecoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let receipts = [GrabReceipt(.granted(Fen(1234)), seq: 3), GrabReceipt(.alreadyGrabbed(Fen(1)), seq: 100),
                        GrabReceipt(.soldOut), GrabReceipt(.expired), GrabReceipt(.notMember)]
        for receipt in receipts {
            let bytes = try encoder.encode(GrabAnswer(receipt))
            let read = try #require(GrabAnswer(json: bytes), "\(String(decoding: bytes, as: UTF8.self))")
            #expect(try read.receipt() == receipt)
        }
        #expect(try GrabAnswer(json: Array(#" { "seq" : 2 , "outcome":"granted", "amount_fen": 7 } "#.utf8))?.receipt() == GrabReceipt(.granted(Fen(7)), seq: 2))
        for bad in [#"{"outcome":"granted","amount_fen":-1,"seq":1}"#, #"{"outcome":"won"}"#, #"{"outcome":"sold_out","extra":1}"#,
                    #"{"outcome":"sold_out"} x"#, #"{"outcome":"sold_out""#, "[]", "", #"{"outcome":"sold_out","outcome":"expired"}"#,
                    #"{"amount_fen":99999999999999999999,"outcome":"granted","seq":1}"#] {
            #expect(GrabAnswer(json: Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    /// The service's hand-written grab answer is, byte for byte, what its `JSONEncoder` (sorted keys) writes.
    @Test func theHandWrittenGrabAnswerIsTheEncodersBytes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for receipt in [GrabReceipt(.granted(Fen(1234)), seq: 3), GrabReceipt(.alreadyGrabbed(Fen(1)), seq: 100),
                        GrabReceipt(.granted(Fen(20_000)), seq: 4_000_000), GrabReceipt(.soldOut), GrabReceipt(.expired),
                        GrabReceipt(.notMember)] {
            #expect(GrabAnswer(receipt).json == String(decoding: try encoder.encode(GrabAnswer(receipt)), as: UTF8.self))
        }
    }

    /// The hand reader of grab bodies takes what `JSONDecoder` takes, the same way, and leaves everything else —
    /// each refusal with its own message — to the decoder's path.
    @Test func theHandReaderOfGrabBodiesAgreesWithTheDecoder() throws {
        for good in ["{}", #"{"member":7}"#, #" { "member" : 4294967295 } "#, #"{"member": 0}"#, #"{"member":null}"#,
                     "{\n\t\"member\":\r\n12\n}"] {
            let quick = try #require(GrabBody.quickly(Array(good.utf8)), "\(good)")
            #expect(quick.member == (try JSONDecoder().decode(GrabBody.self, from: Data(good.utf8))).member, "\(good)")
        }
        for other in [#"{"member":4294967296}"#, #"{"member":-1}"#, #"{"member":007}"#, #"{"member":1.0}"#, #"{"member":1e3}"#,
                      #"{"member":1,"member":2}"#, #"{"member":1,"x":2}"#, #"{"Member":1}"#, #"{"member":"1"}"#,
                      #"{"member":1} x"#, #"{"member":1"#, "[]", "", #"{"member":nul}"#, #"{"member":nullx}"#] {
            #expect(GrabBody.quickly(Array(other.utf8)) == nil, "\(other)")
        }
    }

    @Test func everyAlgorithmNameIsAnAlgorithmAndEveryLuckyAlgorithmHasAName() {
        for name in AlgorithmName.allCases { #expect(AlgorithmName(name.algorithm) == name) }
        for algorithm in SplitAlgorithm.allCases { #expect((AlgorithmName(algorithm) == nil) == (algorithm == .equal), "\(algorithm)") }
    }
}
