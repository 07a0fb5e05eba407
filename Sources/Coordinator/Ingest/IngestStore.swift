import Foundation
import GRDB
import Shared

/// What became of a stored alert.
enum IngestState: String, Codable, Sendable, CaseIterable {
    /// Stored, not yet turned into a ticket change.
    case pending
    /// Opened a ticket or was added to one (`ticket_id`).
    case applied
    /// No enrolled host matches its labels: kept, reported, no ticket.
    case unknownHost = "unknown_host"
    /// A silence covers its host and finding.
    case silenced
    /// Nothing to do (a resolved alert no ticket knows).
    case ignored
    /// Turning it into a ticket change failed repeatedly: kept and reported.
    case failed
}

/// A stored alert with its row id.
struct StoredAlert: Sendable, Equatable {
    var id: Int64
    var receivedAt: Date
    var alert: IngestedAlert
}

/// The ingest share of the store (same database and audit chain as the tickets).
protocol IngestStore: Sendable {
    /// Stores every alert of one delivery in one transaction, with its audit row.
    @discardableResult
    func storeAlerts(_ alerts: [IngestedAlert], receivedAt: Date, audit: AuditEntry) async throws -> [Int64]
    func pendingAlerts(limit: Int) async throws -> [StoredAlert]
    func finishAlert(id: Int64, state: IngestState, host: String?, ticket: Int64?, outcome: String, at: Date, audit: AuditEntry?) async throws
    /// The newest ticket an alert with this key on this host went to.
    func alertTicketID(source: IngestedAlert.Source, key: String, host: String) async throws -> Int64?
    /// Stored alerts by state.
    func ingestCounts() async throws -> [String: Int]
    func storedAlerts(limit: Int) async throws -> [(alert: StoredAlert, state: IngestState, host: String?, ticket: Int64?, outcome: String?)]
    /// Failed alerts back to pending (`rows`, or every failed one when nil), in one
    /// transaction with `audit` (whose details get the rows); returns the rows retried.
    func retryFailedAlerts(rows: [Int64]?, audit: AuditEntry) async throws -> [Int64]
    /// The host's unclosed tickets whose document names finding code `code` (as a target, a
    /// seed or in the latest diagnosis) or whose finding key is `findingKey`: every ticket
    /// that can own a fault with that code, found without decoding the others.
    func unclosedTickets(host: String, naming code: String, findingKey: String) async throws -> [Ticket]
}

/// Why a retry was refused, for the operator.
enum IngestRetryError: Error, CustomStringConvertible, Equatable {
    case unknownRow(Int64)
    case notFailed(Int64, IngestState)
    case nothingFailed

    var description: String {
        switch self {
        case .unknownRow(let row): "no stored alert \(row) (see GET /operator/ingest for the rows)"
        case .notFailed(let row, let state): "stored alert \(row) is \(state.rawValue), not failed: only failed alerts are retried"
        case .nothingFailed: "no stored alert has failed: nothing to retry"
        }
    }
}

typealias IngestingStore = FullStore & IngestStore

extension SQLiteCoordinatorStore: IngestStore {
    func storeAlerts(_ alerts: [IngestedAlert], receivedAt: Date, audit: AuditEntry) async throws -> [Int64] {
        let docs = try alerts.map { String(decoding: try WireCodec.encode($0), as: UTF8.self) }
        let stamp = WireDate.format(receivedAt)
        return try await pool.write { db in
            var ids: [Int64] = []
            for (alert, doc) in zip(alerts, docs) {
                try db.execute(
                    sql: "INSERT INTO ingested_alerts (source, key, status, received_at, doc, state) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [alert.source.rawValue, alert.key, alert.status.rawValue, stamp, doc, IngestState.pending.rawValue])
                ids.append(db.lastInsertedRowID)
            }
            try Self.append(audit, in: db)
            return ids
        }
    }

    private static func stored(_ row: Row) throws -> StoredAlert {
        StoredAlert(id: row["id"], receivedAt: WireDate.parse(row["received_at"]) ?? Date(),
                    alert: try WireCodec.decodeStored(IngestedAlert.self, from: Data((row["doc"] as String).utf8)))
    }

    func pendingAlerts(limit: Int) async throws -> [StoredAlert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, received_at, doc FROM ingested_alerts WHERE state = ? ORDER BY id LIMIT ?",
                             arguments: [IngestState.pending.rawValue, limit]).map(Self.stored)
        }
    }

    func finishAlert(id: Int64, state: IngestState, host: String?, ticket: Int64?, outcome: String, at: Date, audit: AuditEntry?) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE ingested_alerts SET state = ?, host = ?, ticket_id = ?, outcome = ?, processed_at = ? WHERE id = ?",
                           arguments: [state.rawValue, host, ticket, outcome, WireDate.format(at), id])
            if let audit { try Self.append(audit, in: db) }
        }
    }

    func alertTicketID(source: IngestedAlert.Source, key: String, host: String) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT ticket_id FROM ingested_alerts WHERE source = ? AND key = ? AND host = ? AND ticket_id IS NOT NULL
                ORDER BY id DESC LIMIT 1
                """, arguments: [source.rawValue, key, host])
        }
    }

    func ingestCounts() async throws -> [String: Int] {
        try await pool.read { db in
            var counts: [String: Int] = Dictionary(uniqueKeysWithValues: IngestState.allCases.map { ($0.rawValue, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM ingested_alerts GROUP BY state") {
                let state: String = row["state"]
                let n: Int = row["n"]
                counts[state] = n
            }
            counts["tickets"] = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT ticket_id) FROM ingested_alerts WHERE ticket_id IS NOT NULL") ?? 0
            return counts
        }
    }

    func retryFailedAlerts(rows: [Int64]?, audit: AuditEntry) async throws -> [Int64] {
        try await pool.write { db in
            let ids: [Int64]
            if let rows {
                for row in rows {
                    guard let state = try String.fetchOne(db, sql: "SELECT state FROM ingested_alerts WHERE id = ?", arguments: [row]) else {
                        throw IngestRetryError.unknownRow(row)
                    }
                    guard state == IngestState.failed.rawValue else { throw IngestRetryError.notFailed(row, IngestState(rawValue: state) ?? .pending) }
                }
                ids = Array(Set(rows)).sorted()
            } else {
                ids = try Int64.fetchAll(db, sql: "SELECT id FROM ingested_alerts WHERE state = ? ORDER BY id", arguments: [IngestState.failed.rawValue])
                guard !ids.isEmpty else { throw IngestRetryError.nothingFailed }
            }
            for id in ids {
                // The last failure stays in `outcome` until the retry's own outcome replaces it.
                try db.execute(sql: "UPDATE ingested_alerts SET state = ?, processed_at = NULL WHERE id = ?", arguments: [IngestState.pending.rawValue, id])
            }
            var entry = audit
            entry.details["rows"] = ids.map(String.init).joined(separator: ",")
            try Self.append(entry, in: db)
            return ids
        }
    }

    func unclosedTickets(host: String, naming code: String, findingKey: String) async throws -> [Ticket] {
        // The code exactly as the ticket's document spells it: the same encoder, so the same escapes.
        let needle = "\"code\":" + String(decoding: try WireCodec.encoder().encode(code), as: UTF8.self)
        return try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, doc FROM tickets WHERE host = ? AND state NOT IN ('resolved', 'healthy') AND (instr(doc, ?) > 0 OR finding_key = ?) ORDER BY id",
                arguments: [host, needle, findingKey]
            ).map { row in
                var ticket = try WireCodec.decodeStored(Ticket.self, from: Data((row["doc"] as String).utf8))
                ticket.id = row["id"]
                return ticket
            }
        }
    }

    func storedAlerts(limit: Int) async throws -> [(alert: StoredAlert, state: IngestState, host: String?, ticket: Int64?, outcome: String?)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ingested_alerts ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                let state: String = row["state"]
                let host: String? = row["host"]
                let ticket: Int64? = row["ticket_id"]
                let outcome: String? = row["outcome"]
                return (alert: try Self.stored(row), state: IngestState(rawValue: state) ?? .pending, host: host, ticket: ticket, outcome: outcome)
            }
        }
    }
}
