import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Coordinator
@testable import Shared

/// A stored alert that failed to become a ticket change three times is set aside as `failed`
/// and never retried by itself; `POST /operator/ingest/retry` (the CLI's `ingest retry`) puts
/// it back in line, audited, and the next drain handles it.
@Suite struct IngestRetryTests {
    static let token = "operator-token-for-retry-tests"

    func call(_ t: TicketFixture, _ body: String, woken: LockedValue<Int>? = nil) async throws -> (Int, String) {
        let router = OperatorRouter.make(token: Secret(Self.token), rejections: RejectionLog(store: t.fleet.store, clock: t.fleet.clock), routes: [
            IngestOperatorAPI(store: t.fleet.store, wake: { woken?.withLock { $0 += 1 } }),
        ])
        return try await Application(router: router).test(.router) { client in
            let response = try await client.execute(
                uri: "/operator/ingest/retry", method: .post,
                headers: [.authorization: "Bearer \(Self.token)", .contentType: "application/json", HTTPField.Name("X-FieldMedic-Operator")!: "alice"],
                body: ByteBuffer(string: body))
            return (Int(response.status.code), String(buffer: response.body))
        }
    }

    @Test func aFailedAlertIsRetriedOnlyWhenAnOperatorSaysSoAndThenBecomesATicket() async throws {
        let t = try await TicketFixture()
        let service = try IngestTestSupport.service(t)
        let alerts = try AlertmanagerMessage.parse(try IngestTestSupport.workerDown(), hostLabels: IngestConfig.defaultHostLabels).alerts
        let row = try #require(try await service.receive(alerts, source: .alertmanager).first)

        // Every ticket write fails (a real SQLite error, raised by a trigger): three drains, three attempts.
        try await t.fleet.store.pool.write { db in
            try db.execute(sql: "CREATE TRIGGER retry_test_no_tickets BEFORE INSERT ON tickets BEGIN SELECT RAISE(ABORT, 'test: tickets cannot be written'); END")
        }
        for _ in 0..<IngestService.maxAttempts { await service.drain() }
        var counts = try await t.fleet.store.ingestCounts()
        #expect(counts["failed"] == 1 && counts["pending"] == 0, "\(counts)")
        let failed = try #require(try await t.fleet.store.storedAlerts(limit: 10).first)
        #expect(failed.state == .failed && failed.outcome?.contains("tickets cannot be written") == true, "\(failed.outcome ?? "")")
        #expect(try await t.fleet.store.auditRows(since: nil).contains { $0.action == "ingest.failed" && $0.details.contains("processing_failed") })

        // Never retried by itself.
        try await t.fleet.store.pool.write { db in try db.execute(sql: "DROP TRIGGER retry_test_no_tickets") }
        #expect(await service.drain() == 0)
        #expect(try await t.fleet.store.allTickets().isEmpty)

        // Clear refusals: neither or both, an unknown row, a row that is not failed.
        #expect(try await call(t, "{}").0 == 400)
        #expect(try await call(t, "{\"rows\":[\(row)],\"allFailed\":true}").0 == 400)
        let (unknown, unknownText) = try await call(t, "{\"rows\":[\(row + 1000)]}")
        #expect(unknown == 404 && unknownText.contains("no stored alert \(row + 1000)"), "\(unknownText)")

        // The operator retries it: audited with who and which rows; the service is woken.
        let woken = LockedValue(0)
        let (ok, text) = try await call(t, "{\"rows\":[\(row)]}", woken: woken)
        #expect(ok == 200 && text.contains("\(row)"), "\(text)")
        #expect(woken.withLock { $0 } == 1)
        let audit = try #require(try await t.fleet.store.auditRows(since: nil).last { $0.action == "ingest.retried" })
        #expect(audit.actor == "operator:alice" && audit.details.contains("\(row)"), "\(audit)")
        #expect(try await t.fleet.store.ingestCounts()["pending"] == 1)
        #expect(await service.drain() == 1)
        counts = try await t.fleet.store.ingestCounts()
        #expect(counts["applied"] == 1 && counts["failed"] == 0 && counts["tickets"] == 1, "\(counts)")
        #expect(try await t.fleet.store.allTickets().count == 1)

        // Applied now: retrying it again is refused, and so is "all failed" with none failed.
        let (again, againText) = try await call(t, "{\"rows\":[\(row)]}")
        #expect(again == 409 && againText.contains("is applied, not failed"), "\(againText)")
        let (none, noneText) = try await call(t, "{\"allFailed\":true}")
        #expect(none == 409 && noneText.contains("nothing to retry"), "\(noneText)")
    }

    @Test func allFailedRetriesEveryFailedRowInOrder() async throws {
        let t = try await TicketFixture()
        let service = try IngestTestSupport.service(t)
        var rows: [Int64] = []
        for fingerprint in ["aaaa000011112222", "bbbb000011112222"] {
            let alerts = try AlertmanagerMessage.parse(try IngestTestSupport.workerDown(fingerprint: fingerprint), hostLabels: IngestConfig.defaultHostLabels).alerts
            rows += try await service.receive(alerts, source: .alertmanager)
        }
        for id in rows {
            try await t.fleet.store.finishAlert(id: id, state: .failed, host: nil, ticket: nil, outcome: "test failure", at: Date(), audit: nil)
        }
        let (ok, text) = try await call(t, "{\"allFailed\":true}")
        #expect(ok == 200, "\(text)")
        let answer = try WireCodec.decodeStored(IngestRetryResponse.self, from: Data(text.utf8))
        #expect(answer.rows == rows.sorted())
        #expect(await service.drain() == 2)
        #expect(try await t.fleet.store.ingestCounts()["failed"] == 0)
    }
}
