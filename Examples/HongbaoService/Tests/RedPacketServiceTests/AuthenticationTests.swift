import Foundation
import HongbaoCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import RedPacketAPI
@testable import RedPacketService
import Testing

/// Who may do what, with bearer tokens: through the router, on the in-process engine.
@Suite("Bearer tokens")
struct AuthenticationTests {
    static let secret = String(repeating: "k", count: 40)

    static func app() async throws -> (some ApplicationProtocol, TokenKeys) {
        let keys = try await TokenKeys(secret: secret)
        let service = RedPacketService(engine: LockFreeEngine(), shared: false, authentication: .tokens(keys))
        return (Application(router: service.router()), keys)
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer " + token] }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func error(_ response: TestResponse) -> String {
        (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView)).error) ?? "not a JSON error"
    }

    @Test func aMemberGrabsForItselfOnlyAndOnlyTheSenderMembersAndOperatorsSeeTheAccount() async throws {
        let (app, keys) = try await Self.app()
        let alice = Self.bearer(try await keys.token(for: MemberID(1)))   // the sender, a member too
        let bob = Self.bearer(try await keys.token(for: MemberID(2)))     // a member
        let carol = Self.bearer(try await keys.token(for: MemberID(50)))  // not a member
        let staff = Self.bearer(try await keys.token(for: MemberID(99), role: .operator))
        try await app.test(.router) { client in
            let created = try await client.execute(uri: "/packets", method: .post, headers: alice,
                                                   body: Self.body(#"{"total_fen": 300, "shares": 3, "members": [1, 2, 3]}"#))
            #expect(created.status == .created)
            let id = try JSONDecoder().decode(CreatedPacket.self, from: Data(created.body.readableBytesView)).id

            // Bob names Alice: refused, and nothing is granted to anyone.
            let forged = try await client.execute(uri: "/packets/\(id)/grab", method: .post, headers: bob, body: Self.body(#"{"member": 1}"#))
            #expect(forged.status == .forbidden, "\(Self.error(forged))")
            // Bob for himself: by naming himself, by an empty object, or with no body at all — one share, once.
            let named = try await client.execute(uri: "/packets/\(id)/grab", method: .post, headers: bob, body: Self.body(#"{"member": 2}"#))
            let empty = try await client.execute(uri: "/packets/\(id)/grab", method: .post, headers: bob, body: Self.body("{}"))
            let bare = try await client.execute(uri: "/packets/\(id)/grab", method: .post, headers: bob)
            let outcomes = try [named, empty, bare].map { try JSONDecoder().decode(GrabAnswer.self, from: Data($0.body.readableBytesView)).outcome }
            #expect(outcomes == [.granted, .alreadyGrabbed, .alreadyGrabbed])

            // The account: the sender, a member and an operator read it; an outsider may not.
            for (who, headers, status) in [("sender", alice, HTTPResponse.Status.ok), ("member", bob, .ok), ("operator", staff, .ok), ("outsider", carol, .forbidden)] {
                let response = try await client.execute(uri: "/packets/\(id)", method: .get, headers: headers)
                #expect(response.status == status, "\(who): \(Self.error(response))")
            }
            let account = try JSONDecoder().decode(PacketAccount.self, from: Data(
                try await client.execute(uri: "/packets/\(id)", method: .get, headers: staff).body.readableBytesView))
            #expect(account.grabs.map(\.member) == [2], "Bob's grab only: the forged one granted nothing")
            // Expiring early: a member or an outsider may not; the sender may.
            for (who, headers) in [("member", bob), ("outsider", carol)] {
                let response = try await client.execute(uri: "/packets/\(id)/expire", method: .post, headers: headers)
                #expect(response.status == .forbidden, "\(who): \(Self.error(response))")
            }
            let expired = try await client.execute(uri: "/packets/\(id)/expire", method: .post, headers: alice)
            #expect(expired.status == .ok)
            #expect(try JSONDecoder().decode(ExpireAnswer.self, from: Data(expired.body.readableBytesView)).outcome == .refunded)
            // An operator may expire anyone's packet; an unknown packet is a 404 for everyone.
            let other = try await client.execute(uri: "/packets", method: .post, headers: bob,
                                                 body: Self.body(#"{"total_fen": 100, "shares": 1, "members": [1, 2]}"#))
            let otherID = try JSONDecoder().decode(CreatedPacket.self, from: Data(other.body.readableBytesView)).id
            #expect(try await client.execute(uri: "/packets/\(otherID)/expire", method: .post, headers: staff).status == .ok)
            #expect(try await client.execute(uri: "/packets/424242/expire", method: .post, headers: carol).status == .notFound)
        }
    }

    @Test func aRetriedSendWithItsKeyMakesOnePacketAndTheKeyWithAnotherBodyIs422() async throws {
        let (app, keys) = try await Self.app()
        let alice = Self.bearer(try await keys.token(for: MemberID(1)))
        let bob = Self.bearer(try await keys.token(for: MemberID(2)))
        @Sendable func keyed(_ headers: HTTPFields, _ key: String) -> HTTPFields {
            var headers = headers
            headers[HTTPField.Name("Idempotency-Key")!] = key
            return headers
        }
        try await app.test(.router) { client in
            let body = #"{"total_fen": 300, "shares": 3, "members": [1, 2, 3]}"#
            let first = try await client.execute(uri: "/packets", method: .post, headers: keyed(alice, "order-77"), body: Self.body(body))
            // The same request, spaced and ordered differently: the same packet, told it is a replay.
            let retry = try await client.execute(uri: "/packets", method: .post, headers: keyed(alice, "order-77"),
                                                 body: Self.body(#"{ "members": [1, 2, 3], "shares": 3, "total_fen": 300 }"#))
            #expect(first.status == .created && retry.status == .created)
            #expect(String(buffer: first.body) == String(buffer: retry.body))
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil && retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            // Another body under the key: 422, nothing sent.
            let other = try await client.execute(uri: "/packets", method: .post, headers: keyed(alice, "order-77"),
                                                 body: Self.body(#"{"total_fen": 900, "shares": 3, "members": [1, 2, 3]}"#))
            #expect(other.status == .unprocessableContent, "\(Self.error(other))")
            // Bob's key of the same name is Bob's own send; a malformed key is a 400.
            let bobs = try await client.execute(uri: "/packets", method: .post, headers: keyed(bob, "order-77"), body: Self.body(body))
            #expect(bobs.status == .created && String(buffer: bobs.body) != String(buffer: first.body))
            let bad = try await client.execute(uri: "/packets", method: .post, headers: keyed(bob, "has space"), body: Self.body(body))
            #expect(bad.status == .badRequest)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("hongbao_packets_sent_total 2"), "two packets made, not three: \(metrics)")
        }
    }

    @Test func missingMalformedForgedExpiredAndUnsignedTokensAre401() async throws {
        let (app, keys) = try await Self.app()
        let other = try await TokenKeys(secret: String(repeating: "x", count: 40))
        let forged = try await other.token(for: MemberID(1))
        let expired = try await keys.keys.sign(MemberToken(member: MemberID(1), expires: Date().addingTimeInterval(-60)))
        let notAMember = try await keys.keys.sign(TestClaims(sub: "007", exp: .init(value: Date().addingTimeInterval(60))))
        let valid = try await keys.token(for: MemberID(1))
        // alg "none": the valid token's claims, unsigned.
        let parts = valid.split(separator: ".")
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let unsigned = none + "." + parts[1] + "."
        let cases: [(String, HTTPFields)] = [
            ("missing", [:]), ("not bearer", [.authorization: "Basic dXNlcjpwYXNz"]), ("garbage", Self.bearer("a.b.c")),
            ("forged", Self.bearer(forged)), ("expired", Self.bearer(expired)), ("sub not canonical", Self.bearer(notAMember)),
            ("alg none", Self.bearer(unsigned)), ("tampered", Self.bearer(parts[0] + "." + parts[1] + "x." + parts[2])),
        ]
        try await app.test(.router) { client in
            for (name, headers) in cases {
                let response = try await client.execute(uri: "/packets", method: .post, headers: headers,
                                                        body: Self.body(#"{"total_fen": 100, "shares": 1, "members": [1]}"#))
                #expect(response.status == .unauthorized, "\(name): \(response.status)")
                #expect(response.headers[.wwwAuthenticate] == "Bearer", "\(name)")
                #expect(Self.error(response).contains("token") || Self.error(response).contains("Authorization"), "\(name): \(Self.error(response))")
            }
            // Nothing was sent by any of them; health and metrics stay open.
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(!metrics.contains("hongbao_packets_sent_total 1"), "\(metrics)")
        }
    }

    @Test func aVerifiedTokenIsFoundByItsExactBytesAndOnlyUntilItExpires() {
        let book = VerifiedTokens()
        let alice = Caller(member: MemberID(1), isOperator: false)
        let expiry = Date(timeIntervalSince1970: 2_000_000_000)
        book.keep("header.claims.signature", alice, until: expiry)
        #expect(book.caller(of: "header.claims.signature", at: expiry.addingTimeInterval(-1)) == alice)
        #expect(book.caller(of: "header.claims.signature", at: expiry) == nil, "expired: verified again, and refused")
        #expect(book.caller(of: "header.claims.signaturf", at: expiry.addingTimeInterval(-1)) == nil)
    }

    @Test func quicklySignedTokensAreJWTKitsTokens() async throws {
        let keys = try await TokenKeys(secret: Self.secret)
        let later = Int64(Date().timeIntervalSince1970) + 600
        let member = try await keys.verify(keys.signedQuickly(for: MemberID(4_000_000_000), expiresAt: later))
        #expect(member.member == MemberID(4_000_000_000) && member.role == nil)
        let staff = try await keys.verify(keys.signedQuickly(for: MemberID(0), role: .operator, expiresAt: later))
        #expect(staff.role == .operator)
        await #expect(throws: (any Error).self) { try await keys.verify(keys.signedQuickly(for: MemberID(1), expiresAt: later - 1200)) }
        let other = try await TokenKeys(secret: String(repeating: "z", count: 40))
        await #expect(throws: (any Error).self) { try await keys.verify(other.signedQuickly(for: MemberID(1), expiresAt: later)) }
    }

    @Test func aShortSecretIsRefused() async throws {
        await #expect(throws: APIError.self) { try await TokenKeys(secret: "short") }
    }
}

/// Claims with any `sub`, to sign tokens the service must refuse.
struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
