import Hummingbird

/// Puts the caller's identity into `context.agent`, or answers 401/403 (audited) before any
/// handler runs. It sits on the group every authenticated agent route is added to
/// (see `AgentAPI.register`), so a handler cannot forget it.
///
/// ```swift
/// let agents = router.group().add(middleware: AgentAuthenticationMiddleware(authenticator: authenticator))
/// agents.post("/v1/health") { request, context in try context.requireAgent() ... }
/// ```
struct AgentAuthenticationMiddleware: RouterMiddleware {
    typealias Context = AgentRequestContext
    let authenticator: AgentAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.agent = try await authenticator.authenticate(context)
        return try await next(request, context)
    }
}
