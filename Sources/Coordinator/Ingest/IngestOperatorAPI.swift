import Foundation
import Hummingbird
import Shared

/// `GET /operator/ingest`: stored alerts by state (pending, applied, unknown_host, silenced,
/// ignored, failed), the tickets they went to, and the newest alerts with their outcome.
struct IngestOperatorAPI: OperatorRoutes {
    let store: any IngestingStore

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
