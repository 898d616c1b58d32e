import HongbaoCore
import Hummingbird
import RedPacketAPI

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
struct BearerTokens: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let keys: TokenKeys

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw ServiceError(.unauthorized, "this call needs Authorization: Bearer <token> (an HS256 JWT whose sub is your member id)")
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw ServiceError(.unauthorized, "the Authorization header is not a bearer token")
        }
        let claims: MemberToken
        do {
            claims = try await keys.verify(String(header.dropFirst(7)))
        } catch {
            throw ServiceError(.unauthorized, "the bearer token was refused: its signature, algorithm, expiry or sub does not check")
        }
        var context = context
        context.caller = Caller(member: claims.member!, isOperator: claims.role == .operator)   // `verify` checked sub
        return try await next(request, context)
    }
}
