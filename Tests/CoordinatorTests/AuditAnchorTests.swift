import Foundation
import GRDB
import Testing
@testable import Coordinator
@testable import Shared

/// Whoever can write the database can recompute the whole chain after an edit (D13); a head
/// written down elsewhere (`audit head`) then no longer matches, and `audit verify --anchor`
/// says so.
@Suite struct AuditAnchorTests {
    /// What an attacker with the database does: edit row `row`, then re-link every later row.
    static func rewrite(_ store: SQLiteCoordinatorStore, row edited: Int64) async throws {
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE audit_log SET subject = 'someone-else' WHERE id = ?", arguments: [edited])
            var previous = try String.fetchOne(db, sql: "SELECT hash FROM audit_log WHERE id = ?", arguments: [edited - 1]) ?? HashChain.genesis
            for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE id >= ? ORDER BY id", arguments: [edited]) {
                var record = SQLiteCoordinatorStore.auditRecord(row)
                record.previousHash = previous
                record.hash = HashChain.link(previous: previous, canonical: record.canonical)
                try db.execute(sql: "UPDATE audit_log SET previous_hash = ?, hash = ? WHERE id = ?", arguments: [record.previousHash, record.hash, record.id])
                previous = record.hash
            }
        }
    }

    @Test func aRecomputedChainVerifiesButMissesItsAnchor() async throws {
        let f = try FleetFixture()
        for i in 0..<5 { try await f.store.appendAudit(AuditEntry(actor: "t", action: "test.row", subject: "s\(i)")) }
        let anchor = try #require(try f.store.auditHead())
        #expect(anchor.row == 5)
        #expect(AuditAnchor(anchor.description) == anchor)
        #expect(try AuditAnchor.mismatches([anchor]) { try f.store.auditHash(row: $0) }.isEmpty)

        try await Self.rewrite(f.store, row: 2)
        guard case .intact = try await f.store.verifyAudit() else { Issue.record("the recomputed chain should verify on its own"); return }
        let problems = try AuditAnchor.mismatches([anchor]) { try f.store.auditHash(row: $0) }
        #expect(problems.count == 1)
        #expect(problems.first?.contains("rewritten") == true)
    }

    @Test func deletedRowsPastAnAnchorAreFound() async throws {
        let f = try FleetFixture()
        for i in 0..<4 { try await f.store.appendAudit(AuditEntry(actor: "t", action: "test.row", subject: "s\(i)")) }
        let anchor = try #require(try f.store.auditHead())
        try await f.store.pool.write { db in try db.execute(sql: "DELETE FROM audit_log WHERE id >= 3") }
        let problems = try AuditAnchor.mismatches([anchor]) { try f.store.auditHash(row: $0) }
        #expect(problems.first?.contains("missing") == true)
    }

    /// Each report published when a run ends carries the head: an anchor on GitHub, where
    /// the database's writer cannot change it.
    @Test func aClosedReportCarriesAnAnchorThatFindsALaterRewrite() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        try await f.settle()
        let report = try #require(f.github.reportBody(issue.number))
        let marker = try #require(report.range(of: "<!-- fieldmedic:audit-anchor ")).upperBound
        let anchor = try #require(AuditAnchor(String(report[marker...].prefix { $0 != " " })))
        #expect(try AuditAnchor.mismatches([anchor]) { try f.fleet.store.auditHash(row: $0) }.isEmpty)
        // Later activity does not change a closed report (no edits as the log grows).
        let edits = f.github.writes.filter { $0.hasPrefix("edit") }.count
        try await f.fleet.store.appendAudit(AuditEntry(actor: "t", action: "test.row", subject: "later"))
        try await f.settle()
        #expect(f.github.writes.filter { $0.hasPrefix("edit") }.count == edits)
        try await Self.rewrite(f.fleet.store, row: 2)
        #expect(try AuditAnchor.mismatches([anchor]) { try f.fleet.store.auditHash(row: $0) }.count == 1, "the rewrite is found")
    }

    @Test func anchorsParseStrictly() {
        let hash = String(repeating: "ab", count: 32)
        #expect(AuditAnchor("12:\(hash)") == AuditAnchor(row: 12, hash: hash))
        #expect(AuditAnchor("12 \(hash.uppercased())") == AuditAnchor(row: 12, hash: hash))
        for bad in ["", "12", "x:\(hash)", "0:\(hash)", "12:abc", "12:\(hash):1"] { #expect(AuditAnchor(bad) == nil, "\(bad)") }
    }
}
