import Foundation
import Hummingbird
import Logging
import NIOCore
import Shared

/// The ingest listener (`[listen] ingest`): `POST /v1/ingest/alertmanager` (bearer token or an
/// enrolled agent's client certificate, checked by `IngestAuthenticationMiddleware`) and
/// `POST /v1/ingest/glitchtip/<token>` (the token in the path, checked by
/// `PathTokenMiddleware`). Each stores the delivery first and answers 200 only once it is
/// stored; 400 with the reason for a body it cannot read (nothing is stored then); 503 when
/// the store cannot take it (Alertmanager retries 5xx, and only 5xx).
struct IngestAPI: Sendable {
    let service: IngestService
    let config: IngestConfig
    let secrets: IngestSecrets
    /// Client certificates, when the listener runs TLS.
    let authenticator: AgentAuthenticator?
    let rejections: RejectionLog
    let logger: Logger

    /// Alertmanager does not cap a group's size (`max_alerts` = 0): room for thousands of alerts.
    static let maxBodyBytes = 16 << 20
    static let alertmanagerPath = "/v1/ingest/alertmanager"
    static let glitchtipPrefix = "/v1/ingest/glitchtip"
    /// Reachable without credentials; the route-walk test holds every other route to 401/403.
    static let publicRoutes: Set<String> = ["GET /healthz"]

    func makeRouter() -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        let alertmanager = router.group().add(middleware: IngestAuthenticationMiddleware(
            token: secrets.alertmanagerToken, authenticator: authenticator, rejections: rejections))
        alertmanager.post("/v1/ingest/alertmanager") { request, _ in
            try await receive(request, source: .alertmanager)
        }
        let glitchtip = router.group().add(middleware: PathTokenMiddleware(token: secrets.glitchtipToken, prefix: Self.glitchtipPrefix, rejections: rejections))
        glitchtip.post("/v1/ingest/glitchtip/{token}") { request, _ in
            try await receive(request, source: .glitchtip)
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return router
    }

    func receive(_ request: Request, source: IngestedAlert.Source) async throws -> Response {
        let data = try await request.collectBody(limit: Self.maxBodyBytes)
        var details: [String: String] = [:]
        let alerts: [IngestedAlert]
        var truncated: (group: String, count: UInt64)?
        do {
            switch source {
            case .alertmanager:
                let parsed = try AlertmanagerMessage.parse(data, hostLabels: config.hostLabels)
                alerts = parsed.alerts
                details["group"] = parsed.groupKey
                if parsed.truncated > 0 {
                    details["truncated"] = String(parsed.truncated)
                    truncated = (parsed.groupKey, parsed.truncated)
                }
            case .glitchtip:
                alerts = try GlitchTipMessage.parse(data)
            }
        } catch {
            await service.reportFailure(.badInput(source: source, reason: "\(error)"))
            return Self.answer(.badRequest, "\(error)")
        }
        do {
            try await service.receive(alerts, source: source, details: details)
        } catch {
            throw APIError(.serviceUnavailable, "store_unavailable", "the alerts could not be stored; retry later (the coordinator's log says why)")
        }
        var text = "stored \(alerts.count) alert\(alerts.count == 1 ? "" : "s")"
        if let truncated {
            await service.reportFailure(.truncated(group: truncated.group, count: truncated.count))
            text += "; \(truncated.count) more left out by Alertmanager (max_alerts)"
        }
        return Self.answer(.ok, text)
    }

    static func answer(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}

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
