import Foundation
import Hummingbird
import NIOCore

/// The request context of the service's routes: Hummingbird's basic context, the caller's address (which the send
/// quota counts by) and, once its token is checked, who is calling.
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The peer's address (nil in router tests, which have no socket).
    public let remoteAddress: SocketAddress?
    /// The member the request's bearer token names; nil without tokens (`--insecure-dev`) and before the check.
    public var caller: Caller?

    /// The context of a request that arrived on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The encoder of every answer: one, configured once (keys sorted: answers are byte-stable).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    /// The decoder of every body (after `JSONKeys` has checked its keys).
    static let decoder = JSONDecoder()

    /// Answers are encoded with `encoder`.
    public var responseEncoder: JSONEncoder { Self.encoder }
    /// Bodies are decoded with `decoder`.
    public var requestDecoder: JSONDecoder { Self.decoder }

    /// Who the quota counts this request against: the caller's member with tokens, else the peer's IP address.
    var client: String { caller.map { "member \($0.member.rawValue)" } ?? remoteAddress?.ipAddress ?? "local" }
}
