import Foundation
import GRDB
import Shared

struct SilenceRecord: Codable, Sendable, Equatable {
    var id: Int64
    var agent: String
    /// nil: every finding of the host.
    var finding: String?
    var until: Date
    var reason: String
    var createdBy: String
    var createdAt: Date
    var endedAt: Date?

    func covers(agent: String, code: String, at now: Date) -> Bool {
        self.agent == agent && (finding == nil || finding == code) && until > now && endedAt == nil
    }
}

struct SampleStorage: Codable, Sendable, Equatable {
    var rawRows: Int
    var hourlyRows: Int
    var hostDays: Double
    /// Bytes of row payload (values, names, times) per report, measured.
    var bytesPerReport: Double?
    /// That at one report a minute (1,440 a day), before SQLite's page and index overhead.
    var bytesPerHostDay: Double?
}

/// Samples, silences and prediction holds (same database, same audit chain).
protocol PredictStore: Sendable {
    /// metric → subject → points, oldest first, for `agent` since `since`.
    func series(agent: String, since: Date) async throws -> [String: [String: [(t: Double, v: Double)]]]
    /// Only the given metrics, each from its own start (what a prediction reads, no more).
    func series(agent: String, since: [String: Date]) async throws -> [String: [String: [(t: Double, v: Double)]]]
    func hourly(agent: String, metric: String, subject: String, since: Date) async throws -> [(t: Double, min: Double, max: Double, mean: Double)]
    /// Rolls raw samples older than `rawBefore` into hourly rows, deletes them, and deletes
    /// hourly rows older than `hourlyBefore`. Returns (rolled, deletedHourly).
    func enforceRetention(rawBefore: Date, hourlyBefore: Date) async throws -> (Int, Int)
    func sampleStorage() async throws -> SampleStorage

    func addSilence(_ silence: SilenceRecord, audit: AuditEntry) async throws -> SilenceRecord
    func endSilence(id: Int64, at: Date, audit: AuditEntry) async throws -> Bool
    func silences(activeAt: Date?) async throws -> [SilenceRecord]

    func holds(agent: String) async throws -> [String: Date]
    func setHolds(agent: String, _ holds: [String: Date]) async throws
    /// The two newest reports of `agent`, newest first.
    func recentReports(agent: String, limit: Int) async throws -> [HealthReport]
    /// The newest ticket (open or not) for a finding key.
    func latestTicket(findingKey: String) async throws -> Ticket?
}

extension SQLiteCoordinatorStore: PredictStore {
    func series(agent: String, since: Date) async throws -> [String: [String: [(t: Double, v: Double)]]] {
        try await pool.read { db in
            var out: [String: [String: [(t: Double, v: Double)]]] = [:]
            // In the index's order (agent, metric, subject, at): no sort, and each series is
            // gathered in one array before it goes into the dictionary.
            let rows = try Row.fetchCursor(
                db, sql: "SELECT metric, subject, at, value FROM samples WHERE agent = ? AND at >= ? ORDER BY metric, subject, at",
                arguments: [agent, since.timeIntervalSince1970])
            var key: (metric: String, subject: String)?
            var points: [(t: Double, v: Double)] = []
            func flush() {
                if let key, !points.isEmpty { out[key.metric, default: [:]][key.subject] = points }
                points = []
            }
            while let row = try rows.next() {
                let metric: String = row[0], subject: String = row[1]
                if key?.metric != metric || key?.subject != subject {
                    flush()
                    key = (metric, subject)
                }
                points.append((row[2], row[3]))
            }
            flush()
            return out
        }
    }

    func series(agent: String, since: [String: Date]) async throws -> [String: [String: [(t: Double, v: Double)]]] {
        try await pool.read { db in
            var out: [String: [String: [(t: Double, v: Double)]]] = [:]
            let statement = try db.cachedStatement(sql: "SELECT subject, at, value FROM samples WHERE agent = ? AND metric = ? AND at >= ? ORDER BY at")
            for (metric, start) in since {
                let rows = try Row.fetchCursor(statement, arguments: [agent, metric, start.timeIntervalSince1970])
                while let row = try rows.next() {
                    out[metric, default: [:]][row["subject"], default: []].append((row["at"], row["value"]))
                }
            }
            return out
        }
    }

    func hourly(agent: String, metric: String, subject: String, since: Date) async throws -> [(t: Double, min: Double, max: Double, mean: Double)] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT hour, min, max, mean FROM samples_hourly WHERE agent = ? AND metric = ? AND subject = ? AND hour >= ? ORDER BY hour",
                arguments: [agent, metric, subject, since.timeIntervalSince1970]
            ).map { ($0["hour"], $0["min"], $0["max"], $0["mean"]) }
        }
    }

    func enforceRetention(rawBefore: Date, hourlyBefore: Date) async throws -> (Int, Int) {
        try await pool.write { db in
            let cut = rawBefore.timeIntervalSince1970
            // Whole hours only, merged with what an earlier pass already rolled up.
            try db.execute(sql: """
                INSERT INTO samples_hourly (agent, metric, subject, hour, min, max, mean, count)
                SELECT agent, metric, subject, CAST(at / 3600 AS INTEGER) * 3600.0 AS h, MIN(value), MAX(value), AVG(value), COUNT(*)
                FROM samples WHERE at < ? GROUP BY agent, metric, subject, h
                ON CONFLICT(agent, metric, subject, hour) DO UPDATE SET
                    min = MIN(samples_hourly.min, excluded.min),
                    max = MAX(samples_hourly.max, excluded.max),
                    mean = (samples_hourly.mean * samples_hourly.count + excluded.mean * excluded.count) / (samples_hourly.count + excluded.count),
                    count = samples_hourly.count + excluded.count
                """, arguments: [cut])
            try db.execute(sql: "DELETE FROM samples WHERE at < ?", arguments: [cut])
            let rolled = db.changesCount
            try db.execute(sql: "DELETE FROM samples_hourly WHERE hour < ?", arguments: [hourlyBefore.timeIntervalSince1970])
            return (rolled, db.changesCount)
        }
    }

    func sampleStorage() async throws -> SampleStorage {
        try await pool.read { db in
            let raw = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS n, MIN(at) AS first, MAX(at) AS last, COUNT(DISTINCT agent) AS hosts,
                       COUNT(DISTINCT agent || '@' || at) AS reports,
                       SUM(LENGTH(agent) + LENGTH(metric) + LENGTH(subject) + 16) AS bytes FROM samples
                """)
            let hourly = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM samples_hourly") ?? 0
            let n: Int = raw?["n"] ?? 0
            let first: Double? = raw?["first"], last: Double? = raw?["last"]
            let hosts: Int = raw?["hosts"] ?? 0
            let bytes: Double = raw?["bytes"] ?? 0
            let reports: Int = raw?["reports"] ?? 0
            let days = max((last ?? 0) - (first ?? 0), 0) / 86_400
            let perReport = reports > 0 ? bytes / Double(reports) : nil
            return SampleStorage(rawRows: n, hourlyRows: hourly, hostDays: Double(hosts) * days, bytesPerReport: perReport,
                                 bytesPerHostDay: perReport.map { $0 * 1440 })
        }
    }

    func addSilence(_ silence: SilenceRecord, audit: AuditEntry) async throws -> SilenceRecord {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO silences (agent, finding, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [silence.agent, silence.finding, WireDate.format(silence.until), silence.reason, silence.createdBy, WireDate.format(silence.createdAt)])
            var stored = silence
            stored.id = db.lastInsertedRowID
            var entry = audit
            entry.details["silence"] = String(stored.id)
            try Self.append(entry, in: db)
            return stored
        }
    }

    func endSilence(id: Int64, at: Date, audit: AuditEntry) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE silences SET ended_at = ? WHERE id = ? AND ended_at IS NULL", arguments: [WireDate.format(at), id])
            guard db.changesCount == 1 else { return false }
            try Self.append(audit, in: db)
            return true
        }
    }

    func silences(activeAt: Date?) async throws -> [SilenceRecord] {
        try await pool.read { db in
            let rows: [Row]
            if let activeAt {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM silences WHERE ended_at IS NULL AND until > ? ORDER BY id", arguments: [WireDate.format(activeAt)])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM silences ORDER BY id")
            }
            return rows.map { row in
                SilenceRecord(
                    id: row["id"], agent: row["agent"], finding: row["finding"], until: WireDate.parse(row["until"]) ?? .distantPast,
                    reason: row["reason"], createdBy: row["created_by"], createdAt: WireDate.parse(row["created_at"]) ?? .distantPast,
                    endedAt: (row["ended_at"] as String?).flatMap(WireDate.parse))
            }
        }
    }

    func holds(agent: String) async throws -> [String: Date] {
        try await pool.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT key, since FROM prediction_holds WHERE agent = ?", arguments: [agent]).map {
                ($0["key"] as String, Date(timeIntervalSince1970: $0["since"]))
            }, uniquingKeysWith: { a, _ in a })
        }
    }

    func setHolds(agent: String, _ holds: [String: Date]) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM prediction_holds WHERE agent = ?", arguments: [agent])
            for (key, since) in holds {
                try db.execute(sql: "INSERT INTO prediction_holds (agent, key, since) VALUES (?, ?, ?)", arguments: [agent, key, since.timeIntervalSince1970])
            }
        }
    }

    func recentReports(agent: String, limit: Int) async throws -> [HealthReport] {
        let bodies = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM health_reports WHERE agent = ? ORDER BY sequence DESC LIMIT ?", arguments: [agent, limit])
        }
        return try bodies.map { try WireCodec.decodeStored(HealthReport.self, from: Data($0.utf8)) }
    }

    func latestTicket(findingKey: String) async throws -> Ticket? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM tickets WHERE finding_key = ? ORDER BY id DESC LIMIT 1", arguments: [findingKey]) else { return nil }
            var ticket = try WireCodec.decodeStored(Ticket.self, from: Data((row["doc"] as String).utf8))
            ticket.id = row["id"]
            return ticket
        }
    }
}
