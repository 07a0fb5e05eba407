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

    /// The path with GlitchTip's token (the secret in its URL) left out, for log lines.
    @Sendable static func loggablePath(_ path: String) -> String {
        path.hasPrefix(glitchtipPrefix + "/") ? glitchtipPrefix + "/[REDACTED]" : path
    }

    func makeRouter() -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger, pathForLog: Self.loggablePath))
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
            CoordinatorMetrics.shared.ingest(source: source.rawValue, result: "bad_input")
            await service.reportFailure(.badInput(source: source, reason: "\(error)"))
            return Self.answer(.badRequest, "\(error)")
        }
        do {
            try await service.receive(alerts, source: source, details: details)
            CoordinatorMetrics.shared.ingest(source: source.rawValue, result: "stored")
        } catch {
            CoordinatorMetrics.shared.ingest(source: source.rawValue, result: "store_failed")
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
