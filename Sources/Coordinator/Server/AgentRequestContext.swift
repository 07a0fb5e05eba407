import Hummingbird
import NIOCore

/// Request context for the agent listener: keeps the connection's channel so a handler can
/// read the verified client certificate from its TLS handler.
struct AgentRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    var remoteAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
