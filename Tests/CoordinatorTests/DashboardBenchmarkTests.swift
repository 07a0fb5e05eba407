import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Coordinator
@testable import Shared

/// Server time of every dashboard page with 1,000 hosts and 10,000 tickets in the store
/// (target ≤ 50 ms per page), printed as BENCH lines against a reference: the static CSS,
/// which goes through the same router, middleware and session-free path but reads no store.
/// Run by scripts/bench-dashboard.sh, which also serves the seeded store with the release
/// binary; asserts only that every page answers (no timing assertions in tests). Figures: docs/benchmarks.md.
@Suite struct DashboardBenchmarkTests {
    static let hosts = 1_000
    static let tickets = 10_000

    /// 1,000 active hosts with a realistic newest report, 10,000 tickets (one in ten open),
    /// 10,000 audit rows and a week of minute samples for the host the host page shows.
    static func seed(_ f: WebFixture) async throws -> (host: String, ticket: Int64) {
        let now = f.now
        let stamp = WireDate.format(now)
        try await f.store.pool.write { db in
            for i in 0..<hosts {
                let name = String(format: "vps-%04d", i)
                var report = HealthReport(
                    id: "\(name)-r1", sequence: 1, agent: name, createdAt: now,
                    host: HostFacts(hostname: name, uptimeSeconds: 86_400, load1: 0.4, load5: 0.3, load15: 0.2,
                                    memory: MemoryInfo(totalBytes: 8 << 30, availableBytes: 3 << 30, swapTotalBytes: 0, swapFreeBytes: 0)),
                    disks: [DiskUsage(mount: "/", totalBytes: 100 << 30, freeBytes: 40 << 30, availableBytes: 38 << 30, totalInodes: 6_000_000, freeInodes: 5_000_000),
                            DiskUsage(mount: "/var/lib/docker", totalBytes: 200 << 30, freeBytes: 50 << 30, availableBytes: 48 << 30, totalInodes: 12_000_000, freeInodes: 11_000_000)],
                    probes: ["docker", "storage", "queue", "app", "tls", "worker"].map { ProbeSummary(name: $0, durationMs: 12) },
                    findings: i % 7 == 0 ? [Finding(code: "disk.high", severity: .warning, subject: "/", message: "/ is 81% full")] : [])
                report.services = ["app", "nginx", "db", "minio", "worker_wrapper", "qgis"].map {
                    ServiceStatus(service: $0, container: "qfieldcloud-\($0)-1", containerID: String(repeating: "a", count: 64), state: "running", image: "opengisch/\($0):v25")
                }
                try db.execute(sql: "INSERT INTO agents (name, state, created_at, enrolled_at, cert_serial, cert_not_after, last_report_at, last_report_id, last_sequence, report_count) VALUES (?, 'active', ?, ?, ?, ?, ?, ?, 1, 1)",
                               arguments: [name, stamp, stamp, "serial-\(i)", WireDate.format(now.addingTimeInterval(30 * 86_400)), stamp, report.id])
                try db.execute(sql: "INSERT INTO health_reports (id, agent, sequence, created_at, received_at, body) VALUES (?, ?, 1, ?, ?, ?)",
                               arguments: [report.id, name, stamp, stamp, String(decoding: try WireCodec.encode(report), as: UTF8.self)])
            }
            for i in 0..<tickets {
                let host = String(format: "vps-%04d", i % hosts)
                var t = Ticket(source: i % 3 == 0 ? .github : .finding, title: "worker_wrapper is down on \(host) (\(i))", body: "Jobs are not processed.", author: "fieldcrew",
                               now: now.addingTimeInterval(-Double(tickets - i) * 60))
                t.host = host
                t.labels = ["host:\(host)"]
                t.targets = [TicketFixture.down("worker_wrapper")]
                let plan = Plan(steps: [PlanStep(action: "restart_service", params: ["service": "worker_wrapper"], policy: .approve, finding: "service.down", subject: "worker_wrapper")], manual: [])
                t.plan = plan
                t.state = i % 10 == 0 ? (i % 20 == 0 ? .awaitingApproval : .diagnosing) : .resolved
                // As the engine leaves them: a plan waits until its approval times out, a
                // diagnosis until its command's deadline (the command queued for the host).
                if t.state == .awaitingApproval {
                    t.approval = Approval(planHash: plan.hash, requestedAt: now)
                    t.dueAt = now.addingTimeInterval(86_400)
                }
                if t.state == .diagnosing {
                    let command = "ticket-\(i + 1)-diagnose"
                    t.pending = PendingCommand(id: command, purpose: .diagnose, kind: "diagnose", queuedAt: now)
                    t.dueAt = now.addingTimeInterval(300)
                    try db.execute(sql: "INSERT INTO commands (id, agent, kind, params, dry_run, state, requested_by, created_at) VALUES (?, ?, 'diagnose', '{}', 0, 'queued', ?, ?)",
                                   arguments: [command, host, "ticket:\(i + 1)", stamp])
                }
                for step in 0..<8 { t.note("Step \(step) of the ticket's run.", at: t.createdAt.addingTimeInterval(Double(step) * 10)) }
                if t.state == .resolved { t.close(at: t.createdAt.addingTimeInterval(300)); t.github.dirty = false }
                try db.execute(sql: "INSERT INTO tickets (issue_number, finding_key, host, state, open, due_at, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               arguments: [i + 1, nil, host, t.state.rawValue, t.isOpen, t.dueAt.map(WireDate.format), WireDate.format(t.createdAt), WireDate.format(t.updatedAt),
                                           String(decoding: try WireCodec.encode(t), as: UTF8.self)])
            }
            for i in 0..<10_000 {
                try SQLiteCoordinatorStore.append(AuditEntry(at: now, actor: "ticket:\(i)", action: "ticket.state", subject: "ticket:\(i)", details: ["to": "resolved"]), in: db)
            }
            let t0 = now.timeIntervalSince1970
            for minute in 0..<(7 * 1440) {
                let at = t0 - Double(7 * 1440 - minute) * 60
                for (metric, subject, value) in [("disk.used_pct", "/", 40 + Double(minute) / 1000), ("disk.used_pct", "/var/lib/docker", 70.0), ("queue.pending", "core_job", Double(minute % 5))] {
                    try db.execute(sql: "INSERT INTO samples (agent, metric, subject, at, value) VALUES ('vps-0000', ?, ?, ?, ?)", arguments: [metric, subject, at, value])
                }
            }
        }
        let awaiting = try #require(try await f.store.tickets(host: nil, state: .awaitingApproval, openOnly: false, limit: 1).first)
        return ("vps-0000", awaiting.id)
    }

    @Test func benchmarkEveryPageWith1000HostsAnd10000Tickets() async throws {
        let f = try await WebFixture()
        // Seeded at the wall clock's time, so that the exported store reads as current to a
        // coordinator started on it (hosts online, a week of samples ending now).
        f.tickets.fleet.clock.advance(Date().timeIntervalSince(f.now))
        let seeded = Date()
        let (host, ticket) = try await Self.seed(f)
        // scripts/bench-dashboard.sh serves a copy of this store with the release binary
        // (web user "alice", password WebFixture.password) and times it over HTTP.
        if let path = ProcessInfo.processInfo.environment["FIELDMEDIC_BENCH_EXPORT_STORE"], !path.isEmpty {
            try await f.store.pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [path]) }
            print("BENCH dashboard: store exported to \(path)")
        }
        print("BENCH dashboard: seeded \(Self.hosts) hosts, \(Self.tickets) tickets, 10000 audit rows, 30240 samples in \(String(format: "%.1f", Date().timeIntervalSince(seeded)))s")
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let me = try #require(try await WebTest.signIn(client, "alice"))
            let pages = ["/static/app.css", "/", "/fleet/live", "/hosts/\(host)", "/tickets", "/tickets?all=1", "/tickets?all=1&priority=P1&host=vps-0001",
                         "/tickets/\(ticket)", "/tickets/\(ticket)/live", "/approvals", "/audit", "/audit?q=ticket%3A99", "/silences", "/metrics"]
            var medians: [String: Double] = [:]
            let runs = Int(ProcessInfo.processInfo.environment["FIELDMEDIC_BENCH_RUNS"] ?? "") ?? 5
            for page in pages {
                var times: [Double] = []
                var bytes = 0
                for run in 0...runs {
                    let start = ContinuousClock.now
                    let response = try await client.execute(uri: page, method: .get, headers: me.headers)
                    let elapsed = ContinuousClock.now - start
                    #expect(response.status == .ok, "\(page): \(response.status)")
                    bytes = response.body.readableBytes
                    if run > 0 { times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
                }
                times.sort()
                medians[page] = times[times.count / 2]
                let reference = medians["/static/app.css"] ?? 1
                let padded = page.padding(toLength: 44, withPad: " ", startingAt: 0)
                print("BENCH dashboard: \(padded)" + String(format: " median %8.2f ms  max %8.2f ms  %7d bytes  %6.0fx the static reference",
                                                                  times[times.count / 2], times.last!, bytes, times[times.count / 2] / max(reference, 0.001)))
            }
            let worst = medians.filter { $0.key != "/static/app.css" }.max { $0.value < $1.value }!
            print("BENCH dashboard: slowest page \(worst.key) at " + String(format: "%.2f", worst.value) + " ms (target ≤ 50 ms)")
        }
    }
}
