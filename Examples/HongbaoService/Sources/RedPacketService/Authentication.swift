import Foundation
import HongbaoCore
import Hummingbird
import RedPacketAPI
import NIOConcurrencyHelpers

/// Who is calling: the member a verified token names, and whether the token is an operator's.
public struct Caller: Sendable, Hashable {
    public let member: MemberID
    public let isOperator: Bool
}

/// How the service knows its callers.
public enum Authentication: Sendable {
    /// Every API request carries `Authorization: Bearer <token>`, an HS256 JWT signed with these keys.
    case tokens(TokenKeys)
    /// No tokens: the body names the member, and anyone may do anything (`--insecure-dev`: classrooms, local tries).
    case insecureDevelopment
}

/// Checks the bearer token of every request it guards: a missing, malformed, forged or expired token is a 401
/// (`WWW-Authenticate: Bearer`) before the handler runs; a valid one becomes the context's `caller`.
///
/// A client sends the same token with every call, so the tokens verified are kept (`VerifiedTokens`): a token seen
/// before, byte for byte, is not verified again — only its expiry is checked, on every call.
struct BearerTokens: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let keys: TokenKeys
    let verified = VerifiedTokens()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw ServiceError(.unauthorized, "this call needs Authorization: Bearer <token> (an HS256 JWT whose sub is your member id)")
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw ServiceError(.unauthorized, "the Authorization header is not a bearer token")
        }
        let token = String(header.dropFirst(7))
        let now = Date()
        var caller = verified.caller(of: token, at: now)
        if caller == nil {
            let claims: MemberToken
            do {
                claims = try await keys.verify(token)
            } catch {
                throw ServiceError(.unauthorized, "the bearer token was refused: its signature, algorithm, expiry or sub does not check")
            }
            let known = Caller(member: claims.member!, isOperator: claims.role == .operator)   // `verify` checked sub
            verified.keep(token, known, until: claims.exp.value)
            caller = known
        }
        var context = context
        context.caller = caller
        return try await next(request, context)
    }
}

/// Tokens whose signature and claims were verified, with their caller and expiry: at most `capacity` of them (the
/// book is emptied when full, and the next call of each token verifies it again). A token is found only by its
/// exact bytes, so nothing unverified is ever taken from it; an expired one is not found.
final class VerifiedTokens: Sendable {
    private let book = NIOLockedValueBox<[String: (caller: Caller, expires: Date)]>([:])
    static let capacity = 100_000

    func caller(of token: String, at now: Date) -> Caller? {
        book.withLockedValue { book in book[token].flatMap { $0.expires > now ? $0.caller : nil } }
    }

    func keep(_ token: String, _ caller: Caller, until expires: Date) {
        book.withLockedValue { book in
            if book.count >= Self.capacity { book.removeAll(keepingCapacity: true) }
            book[token] = (caller, expires)
        }
    }
}
