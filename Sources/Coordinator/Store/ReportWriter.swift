import Foundation
import GRDB
import Shared

/// One agent's reports on their way into the store.
struct ReportBatch: Sendable {
    var agent: String
    var reports: [(HealthReport, String)]
    var received: String
}

/// Group commit for health reports: while one transaction is being written, the batches that
/// arrive wait and then go in together, in one transaction. Under load that is one commit for
/// many agents instead of one each; with one agent it is a plain write. Each caller is answered
/// only after its batch is committed.
actor ReportWriter {
    private let pool: DatabasePool
    private var pending: [(ReportBatch, CheckedContinuation<HealthReceipt, any Error>)] = []
    private var writing = false

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func submit(_ batch: ReportBatch) async throws -> HealthReceipt {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((batch, continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let group = pending
            pending.removeAll()
            let batches = group.map(\.0)
            do {
                let receipts = try await pool.write { db in try batches.map { try SQLiteCoordinatorStore.store($0, in: db) } }
                for (entry, receipt) in zip(group, receipts) { entry.1.resume(returning: receipt) }
            } catch {
                // One bad batch must not fail the others: write each on its own.
                for (batch, continuation) in group {
                    do {
                        continuation.resume(returning: try await pool.write { db in try SQLiteCoordinatorStore.store(batch, in: db) })
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
        writing = false
    }
}
