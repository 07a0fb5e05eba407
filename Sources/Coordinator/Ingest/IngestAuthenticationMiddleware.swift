import Hummingbird
import Shared

/// Lets an Alertmanager delivery through with the configured bearer token (constant time) or,
/// on a TLS listener, with the client certificate of an enrolled agent (checked as the agent
/// listener checks it: CA, revocation, key). Anything else: 401/403 before the body is read.
///
/// ```swift
/// let group = router.group().add(middleware: IngestAuthenticationMiddleware(token: token, authenticator: nil, rejections: log))
/// group.post("/v1/ingest/alertmanager") { request, context in ... }
/// ```
struct IngestAuthenticationMiddleware: RouterMiddleware {
    typealias Context = AgentRequestContext
    let token: Secret?
    let authenticator: AgentAuthenticator?
    let rejections: RejectionLog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let presented = request.headers[.authorization] {
            guard let token, presented.hasPrefix("Bearer "), token.matches(String(presented.dropFirst(7))) else {
                await rejections.record(peer: context.remoteAddress, reason: "bad ingest bearer token")
                throw APIError(.unauthorized, "unauthorized", "wrong bearer token (Alertmanager: http_config.authorization.credentials_file must hold ingest.alertmanager_token_file's token)")
            }
            return try await next(request, context)
        }
        if let authenticator {
            var context = context
            context.agent = try await authenticator.authenticate(context)
            return try await next(request, context)
        }
        await rejections.record(peer: context.remoteAddress, reason: "ingest request without credentials")
        throw APIError(.unauthorized, "unauthorized", "a bearer token is required (Alertmanager: http_config.authorization.credentials_file)")
    }
}
