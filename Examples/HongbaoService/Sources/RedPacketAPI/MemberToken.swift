import Crypto
import Foundation
import HongbaoCore
import JWTKit

/// The claims of a caller's bearer token: an HS256 JWT whose `sub` is the member id as a decimal string, `exp` its
/// expiry, and `"role": "operator"` for an operator. The service trusts nothing else in it.
public struct MemberToken: JWTPayload, Equatable {
    /// The member id, in decimal: `"0"` … `"4294967295"`, no sign, no leading zero.
    public var sub: SubjectClaim
    /// When the token stops being accepted.
    public var exp: ExpirationClaim
    /// `operator`, or absent for a member.
    public var role: Role?

    /// What a token may do beyond its member's own calls.
    public enum Role: String, Codable, Sendable { case `operator` }

    public init(member: MemberID, role: Role? = nil, expires: Date) {
        sub = SubjectClaim(value: String(member.rawValue))
        exp = ExpirationClaim(value: expires)
        self.role = role
    }

    /// The member the token names, if `sub` is a member id written canonically.
    public var member: MemberID? {
        let digits = sub.value
        guard !digits.isEmpty, digits.count <= 10, digits.utf8.allSatisfy({ (0x30 ... 0x39).contains($0) }),
              digits == "0" || !digits.hasPrefix("0"), let raw = UInt32(digits) else { return nil }
        return MemberID(raw)
    }

    /// Called by JWTKit after the signature checks: the token has not expired and names a member.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard member != nil else {
            throw JWTError.claimVerificationFailure(failedClaim: sub, reason: "sub is not a member id (a decimal UInt32)")
        }
    }
}

/// The HS256 keys of the service and its clients, from one secret (the environment's `HONGBAO_JWT_SECRET`).
public struct TokenKeys: Sendable {
    /// The variable the secret is read from (never a flag: flags show in `ps`).
    public static let environmentVariable = "HONGBAO_JWT_SECRET"
    /// The shortest secret accepted: 32 bytes, HS256's own strength.
    public static let minimumSecretBytes = 32

    public let keys: JWTKeyCollection
    /// The same secret, for `signedQuickly`.
    private let secret: SymmetricKey

    /// Keys for `secret`. - Throws: `APIError` when it is shorter than `minimumSecretBytes`.
    public init(secret: String) async throws {
        guard secret.utf8.count >= Self.minimumSecretBytes else {
            throw APIError("""
                \(Self.environmentVariable) must be at least \(Self.minimumSecretBytes) bytes (e.g. `openssl rand -hex 32`), got \
                \(secret.utf8.count)
                """)
        }
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.secret = SymmetricKey(data: Array(secret.utf8))
    }

    /// Keys from the environment's `HONGBAO_JWT_SECRET`, or nil when it is unset.
    /// - Throws: `APIError` when it is set but too short.
    public static func fromEnvironment() async throws -> TokenKeys? {
        guard let secret = ProcessInfo.processInfo.environment[environmentVariable] else { return nil }
        return try await TokenKeys(secret: secret)
    }

    /// A signed token for `member` (an operator's with `role`), valid for `lifetime`.
    public func token(for member: MemberID, role: MemberToken.Role? = nil, lifetime: Duration = .seconds(3600)) async throws -> String {
        try await keys.sign(MemberToken(member: member, role: role, expires: Date().addingTimeInterval(Double(lifetime.components.seconds))))
    }

    /// `token(for:role:lifetime:)` without JWTKit's actor and coders: the header and claims written as JWTKit
    /// reads them, signed with HMAC-SHA256 (swift-crypto) — for a load generator that signs a token for each of
    /// millions of members, where JWTKit's signing cost more than the calls it authorised (a test checks that
    /// `verify` takes these tokens).
    public func signedQuickly(for member: MemberID, role: MemberToken.Role? = nil, expiresAt: Int64) -> String {
        let claims = #"{"exp":\#(expiresAt),"sub":"\#(member.rawValue)""# + (role.map { #","role":"\#($0.rawValue)"}"# } ?? "}")
        let signing = Self.header + "." + Self.base64URL(Array(claims.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signing.utf8), using: secret)
        return signing + "." + Self.base64URL(Array(signature))
    }

    private static let header = base64URL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` in base64url without padding (RFC 4648 §5), as JWTs write their parts.
    static func base64URL(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count * 4 + 2) / 3)
        for start in stride(from: 0, to: bytes.count, by: 3) {
            let group = bytes[start ..< min(start + 3, bytes.count)]
            let word = group.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * $1.offset) }
            for sextet in 0 ... group.count { text.append(alphabet[Int(word >> (18 - 6 * sextet) & 0x3F)]) }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The claims of `token`, if its signature, algorithm and claims check. - Throws: JWTKit's error otherwise.
    public func verify(_ token: String) async throws -> MemberToken {
        try await keys.verify(token, as: MemberToken.self)
    }
}
