import Hummingbird
import NIOCore

/// Request context for the agent listener: keeps the connection's channel so that
/// `AgentAuthenticationMiddleware` can read the verified client certificate from its TLS
/// handler, and carries the identity it found to the handler.
struct AgentRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// Set by `AgentAuthenticationMiddleware`; nil on the public routes.
    var agent: AgentPrincipal?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    var remoteAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The authenticated caller. Only a route outside the authenticated group could see nil,
    /// and then it is refused too (the route-walk test keeps every route inside).
    func requireAgent() throws -> AgentPrincipal {
        guard let agent else {
            throw APIError(.unauthorized, "client_certificate_required", "a client certificate is required: enroll this agent first")
        }
        return agent
    }
}
