import Foundation
import GRDB
import Logging
import Shared

/// Every report goes through the spool (an outbox): written first, sent oldest first in
/// batches, deleted only once the coordinator acknowledged it. The coordinator stores each
/// id once, so a batch re-sent after a lost answer is harmless.
final class ReportSpool: Sendable {
    private let pool: DatabasePool
    private let maxAge: TimeInterval
    private let logger: Logger

    init(pool: DatabasePool, maxAge: TimeInterval, logger: Logger) {
        self.pool = pool
        self.maxAge = maxAge
        self.logger = logger
    }

    /// Stamps the report with the next sequence number and stores it; drops reports older
    /// than `maxAge`. Returns the stored report.
    @discardableResult
    func append(_ report: HealthReport, now: Date = Date()) throws -> HealthReport {
        var report = report
        let cutoff = WireDate.format(now.addingTimeInterval(-maxAge))
        let dropped: Int = try pool.write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'last_sequence'") ?? 0
            report.sequence = last + 1
            let body = String(decoding: try WireCodec.encode(report), as: UTF8.self)
            try db.execute(
                sql: "INSERT INTO spool (sequence, id, created_at, body) VALUES (?, ?, ?, ?)",
                arguments: [report.sequence, report.id, WireDate.format(report.createdAt), body])
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_sequence', ?)", arguments: [String(report.sequence)])
            try db.execute(sql: "DELETE FROM spool WHERE created_at < ?", arguments: [cutoff])
            let dropped = db.changesCount
            if dropped > 0 {
                let total = (try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'dropped_total'") ?? 0) + dropped
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped_total', ?)", arguments: [String(total)])
            }
            return dropped
        }
        if dropped > 0 {
            logger.warning(
                "spool bound reached: dropped reports older than the spool's max_age",
                metadata: ["dropped": "\(dropped)", "max_age": "\(DurationText.format(maxAge))", "dropped_total": "\(droppedTotal)"])
        }
        return report
    }

    /// The oldest `limit` reports, in sequence order.
    func oldest(limit: Int) throws -> [HealthReport] {
        let bodies = try pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM spool ORDER BY sequence LIMIT ?", arguments: [limit])
        }
        return try bodies.map { try WireCodec.decodeStored(HealthReport.self, from: Data($0.utf8)) }
    }

    /// Removes acknowledged reports.
    func remove(throughSequence sequence: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM spool WHERE sequence <= ?", arguments: [sequence])
        }
    }

    var count: Int {
        (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM spool") ?? 0 }) ?? 0
    }

    var droppedTotal: Int {
        (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'dropped_total'") ?? 0 }) ?? 0
    }
}
