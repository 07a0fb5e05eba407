import Foundation
import Hummingbird
import Shared

/// `GET /operator/ingest`: stored alerts by state (pending, applied, unknown_host, silenced,
/// ignored, failed), the tickets they went to, and the newest alerts with their outcome.
/// `POST /operator/ingest/retry`: failed alerts back to pending (audited), processed again in order.
struct IngestOperatorAPI: OperatorRoutes {
    let store: any IngestingStore
    /// Wakes `IngestService` after a retry (it would otherwise look within seconds anyway).
    var wake: @Sendable () async -> Void = {}

    struct Row: Codable, Sendable {
        var id: Int64
        var receivedAt: Date
        var source: String
        var name: String
        var status: String
        var key: String
        var state: String
        var host: String?
        var ticket: Int64?
        var outcome: String?
    }

    struct Summary: Codable, Sendable {
        var counts: [String: Int]
        var recent: [Row]
    }

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.post("/ingest/retry") { request, _ in
            let body = try await OperatorAPI.decode(IngestRetryRequest.self, request)
            let rows = body.rows ?? []
            guard body.allFailed == true ? rows.isEmpty : !rows.isEmpty else {
                throw APIError(.badRequest, "malformed", "name the failed rows to retry, or all failed ones, not both and not neither")
            }
            guard rows.count <= 10_000 else { throw APIError(.badRequest, "malformed", "at most 10000 rows at once") }
            let retried: [Int64]
            do {
                retried = try await store.retryFailedAlerts(rows: body.allFailed == true ? nil : rows, audit: AuditEntry(
                    at: Date(), actor: OperatorAPI.actor(request), action: "ingest.retried", subject: "ingest"))
            } catch let error as IngestRetryError {
                switch error {
                case .unknownRow: throw APIError(.notFound, "not_found", error.description)
                case .notFailed, .nothingFailed: throw APIError(.conflict, "not_failed", error.description)
                }
            }
            await wake()
            return JSONResponse.make(IngestRetryResponse(rows: retried))
        }
        group.get("/ingest") { request, _ in
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 0), 10_000)
            let rows = try await store.storedAlerts(limit: limit).map { entry in
                Row(id: entry.alert.id, receivedAt: entry.alert.receivedAt, source: entry.alert.alert.source.rawValue, name: entry.alert.alert.name,
                    status: entry.alert.alert.status.rawValue, key: entry.alert.alert.key, state: entry.state.rawValue, host: entry.host,
                    ticket: entry.ticket, outcome: entry.outcome)
            }
            return JSONResponse.make(Summary(counts: try await store.ingestCounts(), recent: rows))
        }
    }
}

/// `POST /operator/ingest/retry`: `rows`, or `allFailed: true`.
struct IngestRetryRequest: Codable, Sendable {
    var rows: [Int64]?
    var allFailed: Bool?
}

struct IngestRetryResponse: Codable, Sendable {
    var rows: [Int64]
}
