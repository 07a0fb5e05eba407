import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// "Latest" and "online" follow the reports as they arrive, whatever their sequence numbers.
@Suite struct LatestReportTests {
    func report(_ sequence: Int64, id: String, at seconds: Double) -> HealthReport {
        HealthReport(id: id, sequence: sequence, agent: "vps-1", createdAt: Date(timeIntervalSince1970: 1_790_000_000 + seconds))
    }

    func online(_ f: FleetFixture) async throws -> Bool {
        let record = try #require(try await f.store.agent(named: "vps-1"))
        return AgentSummary(record, now: f.clock.now(), offlineAfter: 180).online
    }

    @Test func aRebuiltHostWhoseSequenceRestartsIsLatestAndOnline() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        _ = try await f.fleet.receive(HealthBatch(reports: (1...500).map { report($0, id: "old-\($0)", at: Double($0)) }), from: "vps-1")
        f.clock.advance(3600)
        _ = try await f.fleet.receive(HealthBatch(reports: [report(1, id: "new-1", at: 4000)]), from: "vps-1")
        f.clock.advance(60)
        #expect(try await f.store.latestReport(agent: "vps-1")?.id == "new-1")
        #expect(try await online(f))
    }

    @Test func oneHugeSequenceDoesNotPinTheHost() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        _ = try await f.fleet.receive(HealthBatch(reports: [report(Int64.max - 1, id: "huge", at: 1)]), from: "vps-1")
        f.clock.advance(600)
        _ = try await f.fleet.receive(HealthBatch(reports: [report(2, id: "normal", at: 600)]), from: "vps-1")
        #expect(try await f.store.latestReport(agent: "vps-1")?.id == "normal")
        #expect(try await online(f))
        #expect(try await f.store.agent(named: "vps-1")?.lastSequence == 2)
    }
}
