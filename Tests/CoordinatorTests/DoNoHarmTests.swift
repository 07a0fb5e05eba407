import Foundation
import Logging
import Testing
@testable import Coordinator
@testable import Shared

/// Issue 11: a probe's own failure is never a finding, fixes touch only what is broken,
/// every ticket terminates, one ticket per fault, and before/after tells the truth.
@Suite struct DoNoHarmTests {
    static func replicaDown(_ container: String, service: String = "worker_wrapper", state: String = "exited") -> Finding {
        Finding(code: "service.down", severity: .critical, subject: service, message: "\(container) is \(state) (exit 137)",
                evidence: ["container": container, "state": state, "exit_code": "137"])
    }

    static let blindQueue = ProbeSummary(
        name: "queue", durationMs: 3, error: "could not look at the job queue: psql cannot run in the db container (exit 127: not found)",
        fix: QueueFixText.dsn)

    enum QueueFixText { static let dsn = "set [queue] mode = \"dsn\"" }

    // MARK: Probe failure is not a finding

    @Test func aStatusRequestWithAProbeThatCouldNotLookIsNotHealthy() async throws {
        let f = try await TicketFixture()
        f.host.probes = [ProbeSummary(name: "docker", durationMs: 1), Self.blindQueue]
        let issue = f.github.open(title: "Status of the server?")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.intent == .status)
        #expect(t.state == .escalated, "half a look is not healthy")
        #expect(f.github.issues[issue.number]?.state == "open")
        #expect(f.host.executed == ["diagnose"], "nothing is done about a probe that could not look")
        let report = try #require(f.github.reportBody(issue.number))
        #expect(report.contains("Not checked"))
        #expect(report.contains("psql cannot run in the db container"))
        #expect(report.contains("mode = \"dsn\""), "the report names the setting that would let it look")
        #expect(!report.contains("Healthy:"))
    }

    @Test func aHealthyReportSaysWhatWasChecked() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "Status of the server?")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .healthy)
        #expect(t.verdict?.contains("docker, queue") == true, "\(t.verdict ?? "")")
    }

    @Test func aChecklistGetsItsReportAndStaysOpen() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "Weekly check")
        try await f.intake.poll()
        var t = try await f.ticket(issue: issue.number)
        t.intent = .checklist  // the classifier's part is tested on its corpus
        try await f.fleet.store.saveTicket(t, audit: nil)
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .healthy)
        #expect(f.github.issues[issue.number]?.state == "open", "a standing checklist stays open")
        #expect(f.github.reportBody(issue.number)?.contains("standing checklist") == true)
    }

    @Test func aProblemWithNoFindingSaysSoPlainlyAndListsWhatWasChecked() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "check qfieldcloud", body: "it keeps logging me out")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        let report = try #require(f.github.reportBody(issue.number))
        #expect(report.contains("no finding on the host explains it"))
        #expect(report.contains("checked docker, queue"))
    }

    @Test func aQuotaReportIsNeverClosedByFixingTheHostDisk() async throws {
        let f = try await TicketFixture()
        f.host.findings = [Finding(code: "disk.high", severity: .warning, subject: "/", message: "/ is 91 % full")]
        let issue = f.github.open(title: "Issues with Disk Quota management", body: "Users get 'storage full' when they upload.")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(f.host.executed.contains("prune_docker"), "the full host disk is still pruned")
        #expect(t.state == .escalated, "but the report stays open: \(t.verdict ?? "")")
        #expect(f.github.issues[issue.number]?.state == "open")
        #expect(f.github.reportBody(issue.number)?.contains("account") == true)
    }

    // MARK: Least disruptive fix, per container

    @Test func anExitedReplicaIsStartedAloneAndTheOtherIsLeftAlone() {
        let plan = Playbook.builtIn.plan(for: [Self.replicaDown("qfc_worker_wrapper_2")]).plan
        #expect(plan.steps.first?.action == "start_service")
        #expect(plan.steps.first?.params == ["service": "worker_wrapper", "container": "qfc_worker_wrapper_2"])
        #expect(plan.steps.first?.policy == .auto)
        #expect(!plan.steps.contains { $0.action == "restart_service" }, "no restart of the whole service")
        #expect(plan.steps.last?.action == "recreate_service" && plan.steps.last?.policy == .approve)
    }

    @Test func twoExitedReplicasAreBothStartedBeforeAnythingServiceWide() {
        let plan = Playbook.builtIn.plan(for: [Self.replicaDown("p-worker_wrapper-1"), Self.replicaDown("p-worker_wrapper-2")]).plan
        #expect(plan.steps.map(\.summary) == [
            "start_service(container=p-worker_wrapper-1, service=worker_wrapper)",
            "start_service(container=p-worker_wrapper-2, service=worker_wrapper)",
            "recreate_service(service=worker_wrapper)",
        ])
    }

    @Test func anUnhealthyContainerIsRestartedAloneAndAMissingOneOnlyRecreatedWithApproval() {
        let unhealthy = Finding(code: "service.unhealthy", severity: .critical, subject: "minio_proxy", message: "unhealthy",
                                evidence: ["container": "q-minio_proxy-1", "state": "running", "health": "unhealthy"])
        let plan = Playbook.builtIn.plan(for: [unhealthy]).plan
        #expect(plan.steps.first?.summary == "restart_service(container=q-minio_proxy-1, service=minio_proxy)")
        let missing = Finding(code: "service.down", severity: .critical, subject: "nginx", message: "no container", evidence: ["state": "missing"])
        let recreate = Playbook.builtIn.plan(for: [missing]).plan
        #expect(recreate.steps.map(\.action) == ["recreate_service"])
        #expect(recreate.steps.map(\.policy) == [.approve])
    }

    @Test func anOOMKilledContainerThatRunsAgainIsNotTouched() {
        let running = Finding(code: "service.oom_killed", severity: .critical, subject: "app", message: "killed 10m ago; it runs again",
                              evidence: ["container": "q-app-1", "state": "running"])
        let (plan, escalate) = Playbook.builtIn.plan(for: [running])
        #expect(plan.steps.isEmpty)
        #expect(escalate)
        #expect(!plan.manual.isEmpty)
    }

    @Test func aStatefulServiceIsNeverTouchedWithoutApprovalWhateverThePlaybookSays() throws {
        let db = Finding(code: "db.unreachable", severity: .critical, subject: "db", message: "refused",
                         evidence: ["psql_error": "could not connect to server: Connection refused"])
        #expect(Playbook.builtIn.plan(for: [db]).plan.steps.map(\.policy) == [.approve])
        let storage = Self.replicaDown("q-minio-1", service: "minio")
        #expect(Playbook.builtIn.plan(for: [storage]).plan.steps.allSatisfy { $0.policy == .approve })
        // An override that says auto does not make the database automatic.
        let overridden = Playbook.builtIn.overriding(["db.unreachable": .init(policy: .auto, actions: nil)])
        #expect(overridden.plan(for: [db]).plan.steps.map(\.policy) == [.approve])
        // More stateful services from coordinator.toml are added to the built-in ones.
        let config = try TicketConfig.load(from: ConfigReader(text: "[guardrails]\nstateful_services = [\"postgis\"]\n", path: "coordinator.toml"))
        #expect(config.playbook.statefulServices.isSuperset(of: ["db", "minio", "rustfs", "postgis"]))
        #expect(config.playbook.plan(for: [Self.replicaDown("q-postgis-1", service: "postgis")]).plan.steps.allSatisfy { $0.policy == .approve })
    }

    @Test func aStatusRequestNeverRestartsTheDatabaseForAProbeThatCouldNotLook() async throws {
        let f = try await TicketFixture()
        f.host.probes = [ProbeSummary(name: "docker", durationMs: 1), Self.blindQueue]
        let issue = f.github.open(title: "Status of the server?")
        try await f.intake.poll()
        try await f.settle()
        #expect(try await f.commands().map(\.kind) == ["diagnose"])
        #expect(try await f.ticket(issue: issue.number).state != .healthy)
    }

    // MARK: Every ticket terminates

    @Test func aTicketThatWaitsWithoutProgressEscalatesOnceAndStaysQuiet() async throws {
        let f = try await TicketFixture()
        // Fixes fail and the fault stays: every ticket for it must still come to rest.
        f.host.findings = [TicketFixture.down("app")]
        f.host.failFixes = true
        let issues = (0..<3).map { f.github.open(title: "app down \($0)") }
        try await f.intake.poll()
        try await f.settle(rounds: 40)
        for issue in issues {
            let t = try await f.ticket(issue: issue.number)
            #expect(t.state.isTerminal, "#\(issue.number) is \(t.state.rawValue)")
        }
        // A settled fleet stays still: no audit rows, no GitHub calls, no commands.
        let audit = try await f.fleet.store.auditRows(since: nil).count
        let writes = f.github.writes.count
        let commands = try await f.commands().count
        for _ in 0..<30 {
            f.fleet.clock.advance(5)
            await f.runner.tick()
            try await f.host.serve(f.fleet)
        }
        #expect(try await f.fleet.store.auditRows(since: nil).count == audit)
        #expect(f.github.writes.count == writes)
        #expect(try await f.commands().count == commands)
    }

    @Test func noProgressAfterTwoFreshDiagnosesEscalates() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        var t = Ticket(source: .operator, title: "worker down", body: "", author: "operator:test", now: f.fleet.clock.now())
        t = try await f.engine.open(t, via: "test").ticket
        // Another ticket holds the lock three times in a row.
        for round in 1...3 {
            _ = try await f.fleet.store.acquireLock("vps-1|service.down|worker_wrapper", ticket: 999, at: f.fleet.clock.now())
            try await f.settle(rounds: 3)
            try await f.fleet.store.releaseLocks(ticket: 999)
            f.fleet.clock.advance(11)
            try await f.settle(rounds: 3)
            t = try #require(try await f.fleet.store.ticket(id: t.id))
            if t.state.isTerminal { #expect(round >= 2); break }
        }
        #expect(t.state.isTerminal, "\(t.state.rawValue): \(t.timeline.map(\.text))")
    }

    /// Records whether the ticket mutex was held while GitHub was called.
    final class MutexWatch: @unchecked Sendable {
        let lock = NSLock()
        var callsUnderMutex: [String] = []
        var calls = 0
        func record(_ what: String, held: Bool) { lock.withLock { calls += 1; if held { callsUnderMutex.append(what) } } }
    }

    struct WatchedSink: TicketSink {
        let inner: GitHubSink
        let mutex: TicketMutex
        let watch: MutexWatch
        var name: String { "watched" }
        func publish(_ ticket: inout Ticket, report: String, labels: [String], close: Bool) async throws {
            watch.record("publish", held: mutex.isHeld)
            try await inner.publish(&ticket, report: report, labels: labels, close: close)
        }
    }

    @Test func noGitHubCallRunsInsideTheTicketMutex() async throws {
        let f = try await TicketFixture(mode: .propose, approvers: []) { $0.github?.approveWithWritePermission = true }
        f.github.permissions["carol"] = "write"
        let watch = MutexWatch()
        let mutex = TicketMutex()
        let github = f.github
        let engine = TicketEngine(store: f.fleet.store, fleet: f.fleet.fleet, config: f.config, clock: f.fleet.clock, logger: f.logger,
                                  permission: { login in watch.record("permission", held: mutex.isHeld); return try github.permission(of: login) },
                                  mutex: mutex)
        let publisher = TicketPublisher(sink: WatchedSink(inner: GitHubSink(api: f.github, logger: f.logger), mutex: mutex, watch: watch),
                                        engine: engine, mode: .propose, mentions: [], clock: f.fleet.clock, logger: f.logger)
        let intake = IssueIntake(api: f.github, config: f.config.github!, engine: engine, store: f.fleet.store, clock: f.fleet.clock, logger: f.logger)
        let runner = TicketRunner(engine: engine, publisher: publisher, intake: intake, logger: f.logger)
        f.host.findings = [TicketFixture.down("app")]
        let issue = f.github.open(title: "app down")
        try await intake.poll()
        for _ in 0..<4 { await runner.tick(); try await f.host.serve(f.fleet) }
        let body = try #require(f.github.reportBody(issue.number))
        let hash = try #require(body.range(of: "/fieldmedic approve ").map { String(body[$0.upperBound...].prefix(12)) })
        f.fleet.clock.advance(1)
        f.github.comment(on: issue.number, "/fieldmedic approve \(hash)", by: "carol", at: f.fleet.clock.now())
        try await intake.poll()
        for _ in 0..<6 { await runner.tick(); try await f.host.serve(f.fleet) }
        #expect(try await f.ticket(issue: issue.number).state == .resolved, "carol's write permission approved it")
        #expect(watch.calls >= 3, "publishes and the permission look-up were seen")
        #expect(watch.callsUnderMutex.isEmpty, "GitHub called while holding the ticket mutex: \(watch.callsUnderMutex)")
    }

    // MARK: One ticket per fault

    @Test func aFindingOwnedByAnIssueTicketGetsNoSecondTicket() async throws {
        let (f, watcher) = try await watcherFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        f.host.failFixes = true
        let issue = f.github.open(title: "Packages are not being generated since yesterday")
        try await f.intake.poll()
        try await f.settle()
        #expect(try await f.ticket(issue: issue.number).state == .escalated)
        // The watcher sees the same finding in consecutive reports.
        for n in 0..<3 {
            var report = HealthReport(id: "w\(n)", sequence: Int64(100 + n), agent: "vps-1", createdAt: f.fleet.clock.now(), findings: f.host.findings)
            report.agentVersion = "test"
            _ = try await f.fleet.fleet.receive(HealthBatch(reports: [report]), from: "vps-1")
            await watcher.evaluate()
            f.fleet.clock.advance(60)
        }
        try await f.settle()
        #expect(try await f.fleet.store.allTickets().count == 1, "no second ticket for a fault an issue's ticket owns")
        #expect(f.github.issues.count == 1, "no second GitHub issue")
    }

    @Test func aFindingOwnedByATicketThatIsFixingItGetsNoSecondTicket() async throws {
        let (f, watcher) = try await watcherFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        await f.runner.tick()
        try await f.host.serve(f.fleet)
        await f.runner.tick()
        #expect(try await f.ticket(issue: issue.number).state == .fixing)
        for n in 0..<3 {
            var report = HealthReport(id: "x\(n)", sequence: Int64(200 + n), agent: "vps-1", createdAt: f.fleet.clock.now(), findings: [TicketFixture.down("worker_wrapper")])
            report.agentVersion = "test"
            _ = try await f.fleet.fleet.receive(HealthBatch(reports: [report]), from: "vps-1")
            await watcher.evaluate()
        }
        try await f.settle()
        #expect(try await f.fleet.store.allTickets().count == 1)
        #expect(f.github.issues.count == 1)
        #expect(try await f.ticket(issue: issue.number).state == .resolved)
    }

    func watcherFixture() async throws -> (TicketFixture, Watcher) {
        let f = try await TicketFixture { config in WatcherTests.predict(&config.predict) }
        return (f, Watcher(engine: f.engine, config: f.config.predict, offlineAfter: 180, logger: f.logger))
    }

    // MARK: Honest before/after; trends with their confidence

    @Test func beforeAndAfterHaveOneRowPerContainer() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func report(_ id: String, _ second: ServiceStatus) -> HealthReport {
            var r = HealthReport(id: id, sequence: 1, agent: "vps-1", createdAt: now)
            r.services = [ServiceStatus(service: "worker_wrapper", container: "q-worker_wrapper-1", containerID: "a", state: "running",
                                        startedAt: now.addingTimeInterval(-3600)), second]
            return r
        }
        var t = Ticket(source: .github, title: "x", body: "", author: "u", now: now)
        t.targets = [Self.replicaDown("q-worker_wrapper-2")]
        t.baseline = report("b", ServiceStatus(service: "worker_wrapper", container: "q-worker_wrapper-2", containerID: "b", state: "exited", exitCode: 137,
                                               startedAt: now.addingTimeInterval(-3600), finishedAt: now.addingTimeInterval(-5)))
        t.latest = report("a", ServiceStatus(service: "worker_wrapper", container: "q-worker_wrapper-2", containerID: "b", state: "running", startedAt: now))
        let rows = TicketReport.beforeAfter(t)
        let one = rows.first { $0.contains("q-worker_wrapper-1") }, two = rows.first { $0.contains("q-worker_wrapper-2") }
        #expect(two?.contains("exited, exit 137") == true, "\(rows)")
        #expect(two?.contains("running, exit 0") == true)
        #expect(one != nil, "the untouched replica is listed too")
        #expect(one?.components(separatedBy: WireDate.format(now.addingTimeInterval(-3600))).count == 3, "its start time is the same before and after")
    }

    @Test func aTrendFromTooLittleDataIsNotExtrapolated() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let t = now.timeIntervalSince1970
        // Nine points in twelve minutes of a busy build on a big disk.
        let short = (0..<9).map { (t: t - 720 + Double($0) * 90, v: 17.0 + Double($0) * 0.12) }
        var config = PredictConfig()
        config.diskWindow = 6 * 3600
        let view = HostTrends.make(series: ["disk.used_pct": ["/": short]], config: config, now: now)
        let trend = try? #require(view.trends.first)
        #expect(trend?.etaFull == nil)
        #expect(trend?.tooLittleData?.contains("9 points") == true)
        #expect(view.render().contains("too little data"))
        // Six hours of a steady climb: the ETA stands.
        let long = (0..<72).map { (t: t - 6 * 3600 + Double($0) * 300, v: 40.0 + Double($0) * 0.5) }
        let steady = HostTrends.make(series: ["disk.used_pct": ["/": long]], config: config, now: now)
        #expect(steady.trends.first?.etaFull != nil)
        #expect(steady.trends.first?.tooLittleData == nil)
    }
}
