import Foundation
import GRDB
import Testing
@testable import Coordinator
@testable import Shared

/// Refused peers cannot grow the database or hide: rows are folded per peer and reason,
/// bounded in size, throttled past a limit, and a row that failed to be written is not lost.
@Suite struct RejectionLogTests {
    static func auditBytes(_ f: FleetFixture) async throws -> Int {
        try await f.store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(actor) + LENGTH(subject) + LENGTH(details)), 0) FROM audit_log") ?? 0
        }
    }

    @Test func refusedEnrollmentsWithHugeNamesAddAlmostNothing() async throws {
        let f = try FleetFixture()
        let huge = String(repeating: "x", count: 1 << 20)
        for _ in 0..<10 {
            let request = EnrollRequest(token: JoinToken.generate(caFingerprint: f.fleet.caFingerprint).text, name: huge, csrPEM: "x")
            await #expect(throws: FleetError.self) { try await f.fleet.enroll(request, peer: "10.0.0.66") }
        }
        #expect(try await Self.auditBytes(f) < 4096)
        let rows = try await f.store.auditRows(since: nil).filter { $0.action == "token.rejected" }
        #expect(rows.count == 1)
    }

    @Test func oneAuditRowIsBoundedWhateverItCarries() async throws {
        let f = try FleetFixture()
        let huge = String(repeating: "é", count: 1 << 18)
        var details: [String: String] = [:]
        for i in 0..<500 { details["k\(i)"] = huge }
        try await f.store.appendAudit(AuditEntry(actor: huge, action: "test.big", subject: huge, details: details))
        #expect(try await Self.auditBytes(f) < 200_000)
        guard case .intact = try await f.store.verifyAudit() else { Issue.record("the bounded row must still verify"); return }
    }

    @Test func aPeerRefusedTooOftenIsThrottledUntilTheMinuteIsOver() async throws {
        let f = try FleetFixture()
        let log = RejectionLog(store: f.store, clock: f.clock, window: 60, limit: 3)
        for _ in 0..<3 { await log.record(peer: "10.0.0.7", reason: "token_unknown") }
        #expect(await log.allows(peer: "10.0.0.7") == false)
        #expect(await log.allows(peer: "10.0.0.8"))
        f.clock.advance(61)
        #expect(await log.allows(peer: "10.0.0.7"))
    }

    @Test func aRowThatCouldNotBeWrittenIsWrittenWithTheNextRefusal() async throws {
        let f = try FleetFixture()
        let log = RejectionLog(store: f.store, clock: f.clock)
        try await f.store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        await log.record(peer: "10.0.0.9", reason: "no client certificate")
        try await f.store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 0") }
        f.clock.advance(1)
        await log.record(peer: "10.0.0.9", reason: "no client certificate")
        let rows = try await f.store.auditRows(since: nil).filter { $0.action == "auth.rejected" }
        #expect(rows.count == 1)
        #expect(rows.first?.details.contains("\"suppressed_since_last\":\"1\"") == true, "\(rows.first?.details ?? "")")
    }
}
