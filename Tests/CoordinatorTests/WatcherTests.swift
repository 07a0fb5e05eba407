import Foundation
import Testing
@testable import Coordinator
@testable import Shared

@Suite struct WatcherTests {
    /// Small windows so a test can walk through them with the manual clock.
    static func predict(_ p: inout PredictConfig) {
        p.diskWindow = 600
        p.diskHorizon = 7200
        p.hold = 120
        p.minPoints = 6
        p.persistReports = 2
        p.reopenWithin = 3600
    }

    func fixture(_ configure: (inout TicketConfig) -> Void = { _ in }) async throws -> (TicketFixture, Watcher) {
        let f = try await TicketFixture { config in
            Self.predict(&config.predict)
            configure(&config)
        }
        let watcher = Watcher(engine: f.engine, config: f.config.predict, offlineAfter: 180, logger: f.logger)
        return (f, watcher)
    }

    var sequence = LockedValue<Int64>(0)

    /// One report every minute with the disk `used` percent full (and any findings).
    func report(_ f: TicketFixture, used: Double, findings: [Finding] = []) async throws {
        let n = sequence.withLock { $0 += 1; return $0 }
        let total: UInt64 = 100 << 30
        let free = UInt64(Double(total) * (100 - used) / 100)
        var report = HealthReport(id: "rep-\(n)", sequence: n, agent: "vps-1", createdAt: f.fleet.clock.now(),
                                  disks: [DiskUsage(mount: "/data", totalBytes: total, freeBytes: free, availableBytes: free, totalInodes: 1000, freeInodes: 900)],
                                  findings: findings)
        report.agentVersion = "test"
        _ = try await f.fleet.fleet.receive(HealthBatch(reports: [report]), from: "vps-1")
    }

    @Test func aSteadyFillIsPredictedHeldThenPrunedBeforeTheThresholdAndClosed() async throws {
        let (f, watcher) = try await fixture()
        var used = 50.0
        var openedAt: Double?
        for _ in 0..<40 {
            try await report(f, used: used)
            await watcher.evaluate()
            if openedAt == nil, try await f.fleet.store.allTickets().first != nil { openedAt = used }
            used += 0.5  // 0.5 %/min: 30 %/h, full from 60 % in 80 min
            f.fleet.clock.advance(60)
        }
        let opened = try #require(openedAt, "a prediction opens a ticket")
        #expect(opened > 60, "only once free space is under 40 %")
        #expect(opened < 90, "before the action threshold")
        let t = try #require(try await f.fleet.store.allTickets().first)
        #expect(t.source == .prediction)
        #expect(t.seeds?.first?.code == "disk.full_predicted")
        #expect(t.seeds?.first?.evidence["eta_full_s"] != nil)
        #expect(try await f.fleet.store.allTickets().count == 1, "one ticket per host × finding while it is open")
        try await f.settle()
        let done = try #require(try await f.fleet.store.ticket(id: t.id))
        #expect(done.state == .resolved, "\(done.timeline.map(\.text))")
        #expect(f.host.executed.contains("prune_docker"))
        let number = try #require(done.issueNumber)
        let issue = try #require(f.github.issues[number])
        #expect(issue.labels.contains("fieldmedic:proactive"))
        #expect(issue.state == "closed")
    }

    @Test func periodicWritesAndCleanUpsDoNotAlarm() async throws {
        let (f, watcher) = try await fixture()
        // A sawtooth between 55 and 65 %: writes for 2 minutes, then a clean-up, all day.
        for i in 0..<120 {
            try await report(f, used: 55 + Double(i % 3) * 5)
            await watcher.evaluate()
            f.fleet.clock.advance(60)
        }
        #expect(try await f.fleet.store.allTickets().isEmpty)
    }

    @Test func aSilenceStopsTicketsButTheSamplesAreKept() async throws {
        let (f, watcher) = try await fixture()
        let now = f.fleet.clock.now()
        _ = try await f.fleet.store.addSilence(
            SilenceRecord(id: 0, agent: "vps-1", finding: "disk.full_predicted", until: now.addingTimeInterval(3600), reason: "resize", createdBy: "operator:t", createdAt: now),
            audit: AuditEntry(at: now, actor: "operator:t", action: "silence.created", subject: "vps-1"))
        var used = 60.0
        for _ in 0..<30 {
            try await report(f, used: used)
            await watcher.evaluate()
            used += 0.5
            f.fleet.clock.advance(60)
        }
        #expect(try await f.fleet.store.allTickets().isEmpty)
        #expect(try await f.fleet.store.series(agent: "vps-1", since: .distantPast)["disk.used_pct"]?["/data"]?.count == 30)
        // Expired: the next evaluation acts.
        f.fleet.clock.advance(3600)
        for _ in 0..<15 {
            try await report(f, used: min(used, 99))
            await watcher.evaluate()
            used += 0.5
            f.fleet.clock.advance(60)
        }
        #expect(try await f.fleet.store.allTickets().count == 1)
    }

    @Test func aPersistentFindingOpensOneTicketAndARecurrenceSoonAfterReopensIt() async throws {
        let (f, watcher) = try await fixture()
        let down = TicketFixture.down("worker_wrapper")
        try await report(f, used: 10, findings: [down])
        await watcher.evaluate()
        #expect(try await f.fleet.store.allTickets().isEmpty, "one report is not enough")
        f.fleet.clock.advance(60)
        try await report(f, used: 10, findings: [down])
        await watcher.evaluate()
        await watcher.evaluate()
        #expect(try await f.fleet.store.allTickets().count == 1)
        f.host.findings = [down]
        try await f.settle()
        var t = try #require(try await f.fleet.store.allTickets().first)
        #expect(t.state == .resolved)
        let number = try #require(t.issueNumber)
        #expect(f.github.issues[number]?.state == "closed")
        // The reports that preceded the fix do not undo it.
        await watcher.evaluate()
        #expect(try await f.fleet.store.allTickets().count == 1)
        #expect(try await f.fleet.store.allTickets().first?.run == 1)
        // It comes back 10 minutes later: the same ticket reopens.
        f.fleet.clock.advance(600)
        for _ in 0..<2 {
            try await report(f, used: 10, findings: [down])
            f.fleet.clock.advance(60)
        }
        await watcher.evaluate()
        let all = try await f.fleet.store.allTickets()
        #expect(all.count == 1)
        t = try #require(all.first)
        #expect(t.run == 2)
        f.host.findings = [down]
        try await f.settle()
        #expect(f.github.writes.contains("reopen #\(number)"))
        #expect(try await f.fleet.store.ticket(id: t.id)?.state == .resolved)
    }

    @Test func anOfflineAgentEscalatesAndClosesWhenReportsResume() async throws {
        let (f, watcher) = try await fixture()
        try await report(f, used: 10)
        f.fleet.clock.advance(200)
        await watcher.evaluate()
        var t = try #require(try await f.fleet.store.allTickets().first)
        #expect(t.seeds?.first?.code == "agent.offline")
        #expect(t.state == .escalated)
        await watcher.evaluate()
        #expect(try await f.fleet.store.allTickets().count == 1)
        try await f.settle()
        let number = try #require(try await f.fleet.store.ticket(id: t.id)?.issueNumber)
        #expect(f.github.issues[number]?.state == "open")
        #expect(f.github.issues[number]?.labels.contains("fieldmedic:escalated") == true)
        f.fleet.clock.advance(400)
        try await report(f, used: 10)
        await watcher.evaluate()
        try await f.settle()
        t = try #require(try await f.fleet.store.ticket(id: t.id))
        #expect(t.state == .resolved)
        #expect(t.verdict?.contains("silent for about") == true)
        #expect(f.github.issues[number]?.state == "closed")
    }

    @Test func retentionRollsRawSamplesIntoHoursAndMeasuresStorage() async throws {
        let (f, _) = try await fixture()
        for i in 0..<180 {
            try await report(f, used: 40 + Double(i % 60) / 10)
            f.fleet.clock.advance(60)
        }
        let storage = try await f.fleet.store.sampleStorage()
        #expect(storage.rawRows == 180 * 3)
        #expect((storage.bytesPerHostDay ?? 0) > 0)
        let (rolled, _) = try await f.fleet.store.enforceRetention(rawBefore: f.fleet.clock.now().addingTimeInterval(-3600), hourlyBefore: .distantPast)
        #expect(rolled == 120 * 3)
        let hours = try await f.fleet.store.hourly(agent: "vps-1", metric: "disk.used_pct", subject: "/data", since: .distantPast)
        #expect(hours.count >= 2 && hours.count <= 3)
        #expect(hours.allSatisfy { $0.min <= $0.mean && $0.mean <= $0.max })
        let trends = HostTrends.make(series: try await f.fleet.store.series(agent: "vps-1", since: .distantPast), config: f.config.predict, now: f.fleet.clock.now())
        #expect(trends.sparklines.first?.line.count == 24)
    }
}
