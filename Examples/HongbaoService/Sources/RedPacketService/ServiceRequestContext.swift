import Hummingbird
import NIOCore

/// The request context of the service's routes: Hummingbird's basic context and the caller's address, which the
/// send quota counts by.
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The peer's address (nil in router tests, which have no socket).
    public let remoteAddress: SocketAddress?

    /// The context of a request that arrived on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Who the quota counts this request against: the peer's IP address.
    var client: String { remoteAddress?.ipAddress ?? "local" }
}
