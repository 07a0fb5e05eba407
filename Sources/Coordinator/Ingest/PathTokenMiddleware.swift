import Hummingbird
import Shared

/// Lets a request through only when the last path component after `prefix` is the token
/// (compared in constant time): for senders that cannot sign or send headers (GitHub-style
/// secrets are not an option for GlitchTip). The token never reaches a log line.
struct PathTokenMiddleware: RouterMiddleware {
    typealias Context = AgentRequestContext
    let token: Secret?
    let prefix: String
    let rejections: RejectionLog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let presented = path.hasPrefix(prefix + "/") ? String(path.dropFirst(prefix.count + 1)) : ""
        guard let token, !presented.isEmpty, !presented.contains("/"), token.matches(presented) else {
            await rejections.record(peer: context.remoteAddress, reason: "bad GlitchTip ingest token in the path")
            throw APIError(.unauthorized, "unauthorized", token == nil ? "GlitchTip ingest is off (no ingest.glitchtip_token_file)" : "unknown webhook URL")
        }
        return try await next(request, context)
    }
}
