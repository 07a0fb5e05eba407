import Foundation
import GRDB
import Logging
import Testing
@testable import HostAgent
@testable import Shared

/// A Docker engine in memory: what the logic sees, and what it asked for.
final class FakeDockerEngine: DockerEngine, @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var _containers: [DockerContainer] = []
    private var _states: [String: DockerContainerState] = [:]
    private var _calls: [String] = []

    var calls: [String] { lock.withLock { _calls } }

    func add(_ service: String, state: String = "running", exitCode: Int = 0, oomKilled: Bool = false, memoryLimit: Int64 = 0, restartCount: Int = 0, startedAt: Date = Date(timeIntervalSince1970: 1_790_000_000), finishedAt: Date? = nil, project: String = "qfieldcloud", name: String? = nil) {
        lock.withLock {
            let id = "\(service)-id-\(_containers.count)"
            let name = name ?? "\(project)_\(service)_1"
            _containers.append(DockerContainer(
                id: id, name: name, image: "img", imageID: "sha256:\(service)", state: state,
                labels: ["com.docker.compose.project": project, "com.docker.compose.service": service]))
            _states[id] = DockerContainerState(
                id: id, name: name, status: state, health: nil, restartCount: restartCount, exitCode: exitCode, oomKilled: oomKilled,
                startedAt: startedAt, finishedAt: finishedAt, image: "img", tty: false, memoryLimit: memoryLimit)
        }
    }

    private var _oomEvents: [String: [Date]] = [:]
    /// Records an `oom` event for the (first) container of `service`.
    func recordOOM(_ service: String, at time: Date) {
        lock.withLock {
            guard let id = _containers.first(where: { $0.service == service })?.id else { return }
            _oomEvents[id, default: []].append(time)
        }
    }
    func oomEvents(label: String, since: Date, until: Date) throws(DockerError) -> [DockerEvent] {
        let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
        // A read: not in `calls`.
        return lock.withLock {
            _containers.filter { parts.count == 2 && $0.labels[parts[0]] == parts[1] }.flatMap { container in
                (_oomEvents[container.id] ?? []).filter { $0 >= since && $0 <= until }
                    .map { DockerEvent(action: "oom", containerID: container.id, service: container.service, time: $0) }
            }.sorted { $0.time < $1.time }
        }
    }
    private var _dieExitCodes: [String: [(Date, Int)]] = [:]
    /// Records a `die` event with its exit code for the (first) container of `service`.
    func recordDie(_ service: String, at time: Date, exitCode: Int) {
        lock.withLock {
            guard let id = _containers.first(where: { $0.service == service })?.id else { return }
            _dieExitCodes[id, default: []].append((time, exitCode))
        }
    }
    func dieExitCodes(_ id: String, since: Date, until: Date) throws(DockerError) -> [Int] {
        lock.withLock { (_dieExitCodes[id] ?? []).filter { $0.0 >= since && $0.0 <= until }.map(\.1) }
    }
    func oomEvents(_ id: String, since: Date, until: Date) throws(DockerError) -> [Date] {
        lock.withLock {
            _calls.append("events oom \(id)")
            return (_oomEvents[id] ?? []).filter { $0 >= since && $0 <= until }
        }
    }

    func containers(project: String) throws(DockerError) -> [DockerContainer] { lock.withLock { _containers.filter { $0.project == project } } }
    func allContainers() throws(DockerError) -> [DockerContainer] { lock.withLock { _containers } }
    func inspect(_ id: String) throws(DockerError) -> DockerContainerState {
        guard let state = lock.withLock({ _states[id] }) else { throw .api(status: 404, message: "no such container", path: id) }
        return state
    }
    func restart(_ id: String, stopTimeout: Int) throws(DockerError) {
        lock.withLock {
            _calls.append("restart \(id)")
            _states[id]?.status = "running"
            _states[id]?.startedAt = Date()
        }
    }
    func start(_ id: String) throws(DockerError) {
        lock.withLock {
            _calls.append("start \(id)")
            _states[id]?.status = "running"
            _states[id]?.startedAt = Date()
        }
    }
    private var _logsText = ""
    /// What `logs` answers for every container.
    var logsText: String {
        get { lock.withLock { _logsText } }
        set { lock.withLock { _logsText = newValue } }
    }
    func logs(_ id: String, tail: Int) throws(DockerError) -> String { lock.withLock { _logsText } }

    /// Log lines per container ("TIMESTAMP text"), in order; `logs(_:since:tail:)` answers as
    /// the engine does and records each ask in `logQueries`.
    private var _logLines: [String: [(time: LogTimestamp, text: String)]] = [:]
    private var _logQueries: [(id: String, since: String, tail: Int, lines: Int)] = []
    var logQueries: [(id: String, since: String, tail: Int, lines: Int)] { lock.withLock { _logQueries } }
    func appendLog(_ service: String, _ text: String, at time: String) {
        lock.withLock {
            guard let id = _containers.last(where: { $0.service == service })?.id, let stamp = LogTimestamp(time[...]) else { return }
            _logLines[id, default: []].append((stamp, time + " " + text))
        }
    }
    func logs(_ id: String, since: String, tail: Int) throws(DockerError) -> String {
        let parts = since.split(separator: ".")
        let nanos = parts.count > 1 ? Int(parts[1].padding(toLength: 9, withPad: "0", startingAt: 0)) ?? 0 : 0
        let from = LogTimestamp(seconds: Int64(parts[0]) ?? 0, nanoseconds: nanos)
        return lock.withLock {
            // As the json-file driver: the last `tail` lines, then those from `since` on.
            let lines = (_logLines[id] ?? []).suffix(tail).filter { $0.time >= from }.map(\.text)
            _logQueries.append((id, since, tail, lines.count))
            return lines.map { $0 + "\n" }.joined()
        }
    }
    private var _diskUsageFails = false
    private var _diskUsageCalls = 0
    /// How often `GET /system/df` was asked (a read: not in `calls`).
    var diskUsageCalls: Int { lock.withLock { _diskUsageCalls } }
    /// `GET /system/df` answers 500 while set.
    var diskUsageFails: Bool {
        get { lock.withLock { _diskUsageFails } }
        set { lock.withLock { _diskUsageFails = newValue } }
    }
    func diskUsage() throws(DockerError) -> DockerDiskUsage {
        let fails = lock.withLock {
            _diskUsageCalls += 1
            return _diskUsageFails
        }
        if fails { throw .api(status: 500, message: "df failed", path: "/system/df") }
        return DockerDiskUsage(summary: DockerDiskSummary(imagesBytes: 100, reclaimableImageBytes: 0, buildCacheBytes: 0, reclaimableBuildCacheBytes: 0, containersBytes: 0, volumesBytes: 0))
    }
    func danglingImages() throws(DockerError) -> [DockerImage] {
        [DockerImage(id: "sha256:dangling", tags: [], size: 10, containers: 0), DockerImage(id: "sha256:worker_wrapper", tags: [], size: 10, containers: 1)]
    }
    func images() throws(DockerError) -> [DockerImage] { [] }
    func removeImage(_ id: String) throws(DockerError) { lock.withLock { _calls.append("rmi \(id)") } }
    func pruneBuildCache() throws(DockerError) -> UInt64 { 0 }
    func unusedNetworks() throws(DockerError) -> [DockerNetwork] {
        [DockerNetwork(id: "n1", name: "qfieldcloud_default", labels: ["com.docker.compose.project": "qfieldcloud"]), DockerNetwork(id: "n2", name: "old_net", labels: [:])]
    }
    func removeNetwork(_ id: String) throws(DockerError) { lock.withLock { _calls.append("rmnet \(id)") } }
    func followEvents(project: String, abort: AbortFlag, handler: @escaping (DockerEvent) -> Bool) throws(DockerError) {}

    private var _images: [String: DockerImageDetail] = [:]
    private var _networks: Set<String> = []
    /// An image the engine has under `reference` (as `docker image inspect` finds it).
    func addImage(_ reference: String, id: String? = nil, created: Date? = nil, labels: [String: String] = [:]) {
        lock.withLock { _images[reference] = DockerImageDetail(id: id ?? "sha256:\(reference)", tags: [reference], created: created, labels: labels) }
    }
    func addNetwork(_ name: String) { lock.withLock { _ = _networks.insert(name) } }
    func image(_ reference: String) throws(DockerError) -> DockerImageDetail? { lock.withLock { _images[reference] } }
    func network(_ name: String) throws(DockerError) -> DockerNetwork? {
        lock.withLock { _networks.contains(name) ? DockerNetwork(id: "net-\(name)", name: name, labels: [:]) : nil }
    }
    func containers(label: String) throws(DockerError) -> [DockerContainer] {
        let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
        return lock.withLock { _containers.filter { parts.count == 2 ? $0.labels[parts[0]] == parts[1] : $0.labels[parts[0]] != nil } }
    }
    /// Changes what `inspect` answers for a container (environment, image…).
    func updateState(_ id: String, _ change: (inout DockerContainerState) -> Void) {
        lock.withLock { if var state = _states[id] { change(&state); _states[id] = state } }
    }
    /// A container outside any compose project (a QGIS job container), or of another project.
    func addContainer(_ container: DockerContainer, state: DockerContainerState) {
        lock.withLock {
            _containers.append(container)
            _states[container.id] = state
        }
    }

    /// What `exec` answers; every exec is recorded in `execs` (not in `calls`).
    private var _execResult = ProcessOutcome(status: 0, stdout: "", stderr: "", timedOut: false)
    private var _execs: [(id: String, command: [String], input: String)] = []
    private var _execEnvironments: [[String]] = []
    var execEnvironments: [[String]] { lock.withLock { _execEnvironments } }
    var execResult: ProcessOutcome {
        get { lock.withLock { _execResult } }
        set { lock.withLock { _execResult = newValue } }
    }
    var execs: [(id: String, command: [String], input: String)] { lock.withLock { _execs } }
    private var _execByProgram: [String: ProcessOutcome] = [:]
    /// Answers by program (`command[0]`), before `execResult`.
    func execAnswer(_ program: String, _ outcome: ProcessOutcome) { lock.withLock { _execByProgram[program] = outcome } }
    func exec(_ id: String, command: [String], environment: [String], input: Data, timeout: TimeInterval) throws(DockerError) -> ProcessOutcome {
        lock.withLock {
            _execs.append((id, command, String(decoding: input, as: UTF8.self)))
            _execEnvironments.append(environment)
            return command.first.flatMap { _execByProgram[$0] } ?? _execResult
        }
    }
}

struct FakeRunner: CommandRunner {
    func run(_ command: ProcessCommand) async throws -> ProcessOutcome { ProcessOutcome(status: 127, stdout: "", stderr: "fake", timedOut: false) }
}

func makeContext(_ engine: FakeDockerEngine, policy: ActionPolicy = ActionPolicy()) -> ActionContext {
    var policy = policy
    policy.settle = 0
    return ActionContext(
        agent: "vps-1", engine: engine, compose: ComposeProject(project: "qfieldcloud", directory: nil, dockerSocket: "/nonexistent", runner: FakeRunner()),
        queue: nil, policy: policy, stuckJobAfter: 1200, commandID: "")
}

@Suite struct DockerProbeLogicTests {
    @Test func theEnginesDiskUseIsAskedOncePerIntervalAndAgainAfterAFailure() async throws {
        let engine = FakeDockerEngine()
        engine.add("app")
        let clock = LockedValue(Date(timeIntervalSince1970: 1_790_000_000))
        let probe = DockerProbe(
            engine: engine, project: "qfieldcloud", requiredServices: ["app"],
            diskUsage: DiskUsageCache(interval: 900, now: { clock.value }))
        func collected() async -> DockerDiskSummary? {
            guard case .docker(_, let disk) = await probe.collect().section else { return nil }
            return disk
        }
        func asked() -> Int { engine.diskUsageCalls }

        let first = try #require(await collected())
        #expect(first.measuredAt == clock.value && first.imagesBytes == 100 && asked() == 1)
        clock.value += 899
        #expect(await collected() == first, "within the interval the last answer is repeated, with its time")
        #expect(asked() == 1)
        clock.value += 1
        let second = try #require(await collected())
        #expect(asked() == 2 && second.measuredAt == clock.value)

        clock.value += 900
        engine.diskUsageFails = true
        #expect(await collected() == nil, "a failed call is not hidden behind the old answer")
        engine.diskUsageFails = false
        #expect(await collected()?.measuredAt == clock.value, "and is asked again at the next report")
        #expect(asked() == 4)

        let everyReport = DockerProbe(engine: engine, project: "qfieldcloud", requiredServices: ["app"], diskUsage: DiskUsageCache(interval: 0, now: { clock.value }))
        _ = await everyReport.collect()
        _ = await everyReport.collect()
        #expect(asked() == 6, "interval 0 asks on every report")
    }

    @Test func aReportSaysHowOldTheDiskUseIs() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        var report = HealthReport(id: "r", sequence: 1, agent: "vps-1", createdAt: now)
        report.docker = DockerDiskSummary(imagesBytes: 1, reclaimableImageBytes: 0, buildCacheBytes: 0, reclaimableBuildCacheBytes: 0, containersBytes: 0, volumesBytes: 0, measuredAt: now - 600)
        #expect(ReportFormatter.render(report, now: now).contains("(measured 10m ago)"))
        report.docker?.measuredAt = now - 5
        #expect(!ReportFormatter.render(report, now: now).contains("measured"))
    }

    func statuses(_ engine: FakeDockerEngine) throws -> [ServiceStatus] {
        try DockerProbe(engine: engine, project: "qfieldcloud", requiredServices: ["app", "nginx", "worker_wrapper"]).services()
    }

    @Test func oneShotsThatExitedZeroAreFine() throws {
        let engine = FakeDockerEngine()
        for service in ["app", "nginx", "worker_wrapper"] { engine.add(service) }
        engine.add("qgis3", state: "exited", exitCode: 0)
        engine.add("mkcert", state: "exited", exitCode: 0)
        #expect(DockerProbe.findings(try statuses(engine), required: ["app", "nginx", "worker_wrapper"], project: "qfieldcloud").isEmpty)
    }

    @Test func downRestartingMissingAndFailedOneShots() throws {
        let engine = FakeDockerEngine()
        engine.add("app")
        engine.add("worker_wrapper", state: "exited", exitCode: 1)
        engine.add("ofelia", state: "restarting", exitCode: 2)
        engine.add("qgis4", state: "exited", exitCode: 1)
        let findings = DockerProbe.findings(try statuses(engine), required: ["app", "nginx", "worker_wrapper"], project: "qfieldcloud")
        let pairs = Set(findings.map { "\($0.code) \($0.subject)" })
        #expect(pairs == ["service.down nginx", "service.down worker_wrapper", "service.restarting ofelia", "service.failed qgis4"], "\(pairs)")
        #expect(findings.first { $0.subject == "worker_wrapper" }?.evidence["exit_code"] == "1")
    }

    @Test func anOOMKillIsTheEnginesFlagOrItsOOMEventNotAnyExit137() throws {
        let engine = FakeDockerEngine()
        let now = Date(timeIntervalSince1970: 1_790_100_000)
        // The OOM killer, the engine did not set OOMKilled but recorded the event.
        engine.add("worker_wrapper", state: "restarting", exitCode: 137, memoryLimit: 1000 << 20, restartCount: 2, finishedAt: now - 5)
        engine.recordOOM("worker_wrapper", at: now - 5.01)
        // The engine's own flag.
        engine.add("app", state: "exited", exitCode: 137, oomKilled: true, finishedAt: now - 60)
        // `kill -9` on the host, answered by the restart policy, under a memory limit: no event.
        engine.add("nginx", state: "restarting", exitCode: 137, memoryLimit: 64 << 20, restartCount: 2, finishedAt: now - 3)
        // An oom event of an earlier run (before this run's start) is not about this exit.
        engine.add("ofelia", state: "exited", exitCode: 137, memoryLimit: 64 << 20, restartCount: 1, startedAt: now - 20, finishedAt: now - 10)
        engine.recordOOM("ofelia", at: now - 25)
        // Running again after an OOM kill: the engine keeps OOMKilled; recent counts, old not.
        engine.add("memcached", state: "running", oomKilled: true, restartCount: 1, finishedAt: now - 600)
        engine.add("certbot", state: "running", oomKilled: true, restartCount: 1, finishedAt: now - 7200)
        let probe = DockerProbe(engine: engine, project: "qfieldcloud", requiredServices: [], now: { now })
        let observed = try probe.observe()
        let findings = DockerProbe.findings(observed.statuses, required: [], project: "qfieldcloud", oomEvents: observed.oomEvents, oomRecent: 3600, now: now)
        let oom = Dictionary(uniqueKeysWithValues: findings.filter { $0.code == "service.oom_killed" }.map { ($0.subject, $0) })
        #expect(Set(oom.keys) == ["worker_wrapper", "app", "memcached"], "\(findings.map { "\($0.code) \($0.subject)" })")
        #expect(oom["worker_wrapper"]?.evidence["oom_killed"]?.hasPrefix("not set by the engine; its oom event at ") == true)
        #expect(oom["worker_wrapper"]?.message == "qfieldcloud_worker_wrapper_1 was killed for using too much memory (exit 137, limit 1000.0 MiB)")
        #expect(oom["app"]?.evidence["oom_killed"] == "true")
        #expect(oom["memcached"]?.message == "qfieldcloud_memcached_1 was killed for using too much memory 10m ago; it runs again")
        // The kill is still a restarting service, only not an OOM kill.
        #expect(findings.contains { $0.code == "service.restarting" && $0.subject == "nginx" })
        #expect(observed.statuses.first { $0.service == "nginx" }?.oomKilled == false)
        #expect(observed.statuses.first { $0.service == "worker_wrapper" }?.oomKilled == true)
        // The events are asked only about exits 137 the engine did not flag.
        #expect(Set(engine.calls.filter { $0.hasPrefix("events oom") }.map { String($0.split(separator: " ")[2].prefix { $0 != "-" }) }) == ["worker_wrapper", "nginx", "ofelia"])
    }

    @Test func theRunThatEndedStartedAtItsStartOrHalfAMinuteBeforeItsEnd() {
        let end = Date(timeIntervalSince1970: 1_790_000_100)
        #expect(DockerProbe.runStart(end - 7, finished: end) == end - 7)
        #expect(DockerProbe.runStart(nil, finished: end) == end - 30)
        #expect(DockerProbe.runStart(end + 1, finished: end) == end - 30)
    }

    @Test func theEventsQueryTakesTimesToTheMicrosecond() {
        #expect(DockerEngineClient.unixTime(Date(timeIntervalSince1970: 1_790_000_000.25)) == "1790000000.250000")
        #expect(DockerEngineClient.unixTime(Date(timeIntervalSince1970: 1_790_000_007.000042)) == "1790000007.000042")
        #expect(DockerEngineClient.unixTime(Date(timeIntervalSince1970: 1_790_000_007)) == "1790000007.000000")
    }
}

@Suite struct ActionLogicTests {
    @Test func restartRestartsEveryReplicaAndVerifies() async throws {
        let engine = FakeDockerEngine()
        engine.add("worker_wrapper")
        engine.add("worker_wrapper")
        engine.add("app")
        let outcome = try await RestartServiceAction().run(ActionParameters(values: ["service": "worker_wrapper"], action: "restart_service"), dryRun: false, makeContext(engine))
        #expect(engine.calls == ["restart worker_wrapper-id-0", "restart worker_wrapper-id-1"])
        #expect(outcome.verified == true)
    }

    @Test func anExitedReplicaIsStartedAloneTheRunningOneKeepsItsStart() async throws {
        let engine = FakeDockerEngine()
        let started = Date(timeIntervalSince1970: 1_790_000_000)
        engine.add("worker_wrapper", startedAt: started, name: "qfc-worker_wrapper-1")
        engine.add("worker_wrapper", state: "exited", exitCode: 137, name: "qfc-worker_wrapper-2")
        let parameters = ActionParameters(values: ["service": "worker_wrapper", "container": "qfc-worker_wrapper-2"], action: "start_service")
        let dry = try await StartServiceAction().run(parameters, dryRun: true, makeContext(engine))
        #expect(dry.plan.contains { $0.hasPrefix("start container qfc-worker_wrapper-2") })
        #expect(dry.plan.contains("leave qfc-worker_wrapper-1 alone (running)"))
        #expect(engine.calls.isEmpty)
        let outcome = try await StartServiceAction().run(parameters, dryRun: false, makeContext(engine))
        #expect(engine.calls == ["start worker_wrapper-id-1"], "only the exited replica")
        #expect(outcome.verified == true)
        #expect(outcome.before["qfc-worker_wrapper-2 exit code"] == "137", "before/after has a row per container")
        #expect(outcome.after["qfc-worker_wrapper-1 started"] == WireDate.format(started), "the healthy replica keeps its StartedAt")
        #expect(try engine.inspect("worker_wrapper-id-0").startedAt == started)

        let restart = try await RestartServiceAction().run(
            ActionParameters(values: ["service": "worker_wrapper", "container": "qfc-worker_wrapper-2"], action: "restart_service"), dryRun: false, makeContext(engine))
        #expect(engine.calls.last == "restart worker_wrapper-id-1")
        #expect(!engine.calls.contains("restart worker_wrapper-id-0"))
        #expect(restart.plan.contains("leave qfc-worker_wrapper-1 alone (running)"))

        await #expect(throws: ActionError.self) {
            _ = try await StartServiceAction().run(
                ActionParameters(values: ["service": "worker_wrapper", "container": "qfc-app-1"], action: "start_service"), dryRun: true, makeContext(engine))
        }
    }

    @Test func aDryRunCallsNothingThatChangesState() async throws {
        let engine = FakeDockerEngine()
        engine.add("worker_wrapper", state: "exited", exitCode: 1)
        for action in [RestartServiceAction().name, StartServiceAction().name] {
            let outcome = try await ActionCatalog.action(named: action)!.run(
                ActionParameters(values: ["service": "worker_wrapper"], action: action), dryRun: true, makeContext(engine))
            #expect(outcome.dryRun && !outcome.plan.isEmpty)
        }
        _ = try await PruneDockerAction().run(ActionParameters(values: [:], action: "prune_docker"), dryRun: true, makeContext(engine))
        #expect(engine.calls.isEmpty, "\(engine.calls)")
    }

    @Test func pruneSparesImagesInUseAndTheProjectsNetworks() async throws {
        let engine = FakeDockerEngine()
        engine.add("worker_wrapper")
        let outcome = try await PruneDockerAction().run(ActionParameters(values: [:], action: "prune_docker"), dryRun: false, makeContext(engine))
        #expect(engine.calls == ["rmi sha256:dangling", "rmnet n2"], "\(engine.calls)")
        #expect(!outcome.plan.contains { $0.contains("qfieldcloud_default") })
    }
}

@Suite struct GuardrailTests {
    func budget(backoff: TimeInterval = 0) throws -> (ActionBudget, AgentStateFixture) {
        let fixture = try AgentStateFixture()
        return (ActionBudget(pool: fixture.pool, backoffBase: backoff), fixture)
    }

    @Test func theFourthRestartInAnHourIsRefusedAndTheBudgetReArms() throws {
        let (budget, fixture) = try budget()
        _ = fixture
        let limits = ActionPolicy.Limits()
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        for minute in 0..<3 {
            #expect(try budget.claim(action: "restart_service", subject: "worker_wrapper", limits: limits, commandID: "c\(minute)", now: start.addingTimeInterval(Double(minute) * 60)) == .allowed)
        }
        guard case .refused(let why) = try budget.claim(action: "restart_service", subject: "worker_wrapper", limits: limits, commandID: "c4", now: start.addingTimeInterval(600)) else {
            Issue.record("the 4th restart in an hour must be refused")
            return
        }
        #expect(why.contains("budget spent") && why.contains("limit 3"), "\(why)")
        // Another subject has its own budget.
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c5", now: start.addingTimeInterval(600)) == .allowed)
        // An hour after the first, it re-arms by itself.
        #expect(try budget.claim(action: "restart_service", subject: "worker_wrapper", limits: limits, commandID: "c6", now: start.addingTimeInterval(3601)) == .allowed)
    }

    @Test func theDailyBudgetHolds() throws {
        let (budget, fixture) = try budget()
        _ = fixture
        let limits = ActionPolicy.Limits(enabled: true, budgetPerHour: 100, budgetPerDay: 7)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        for hour in 0..<7 {
            #expect(try budget.claim(action: "prune_docker", subject: "docker", limits: limits, commandID: "c", now: start.addingTimeInterval(Double(hour) * 3600)) == .allowed)
        }
        #expect(try budget.claim(action: "prune_docker", subject: "docker", limits: limits, commandID: "c", now: start.addingTimeInterval(8 * 3600)) != .allowed)
        #expect(try budget.claim(action: "prune_docker", subject: "docker", limits: limits, commandID: "c", now: start.addingTimeInterval(25 * 3600)) == .allowed)
    }

    @Test func backoffDoublesBetweenRuns() throws {
        let (budget, fixture) = try budget(backoff: 30)
        _ = fixture
        let limits = ActionPolicy.Limits(enabled: true, budgetPerHour: 10, budgetPerDay: 10)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c", now: start) == .allowed)
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c", now: start.addingTimeInterval(10)) != .allowed)
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c", now: start.addingTimeInterval(31)) == .allowed)
        // Two runs in the hour: the next needs 60 s after the last.
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c", now: start.addingTimeInterval(61)) != .allowed)
        #expect(try budget.claim(action: "restart_service", subject: "app", limits: limits, commandID: "c", now: start.addingTimeInterval(92)) == .allowed)
    }

    func executor(_ engine: FakeDockerEngine, policy: ActionPolicy, fixture: AgentStateFixture) -> CommandExecutor {
        CommandExecutor(
            agent: "vps-1", probes: ProbeSet(probes: []), journalHead: { nil }, actionContext: makeContext(engine, policy: policy),
            budget: ActionBudget(pool: fixture.pool, backoffBase: 0))
    }

    @Test func theLocalPolicyOnlyNarrows() async throws {
        let fixture = try AgentStateFixture()
        let engine = FakeDockerEngine()
        engine.add("app")
        var off = ActionPolicy()
        off.enabled = false
        let restart = Command(id: "c1", kind: "restart_service", params: ["service": "app"], issuedAt: Date())
        let refused = await executor(engine, policy: off, fixture: fixture).execute(restart)
        #expect(refused.status == .refused && refused.message.contains("actions.enabled = false"), "\(refused.message)")
        // Read-only actions and dry runs still work with the kill switch on.
        var dry = restart
        dry.dryRun = true
        #expect(await executor(engine, policy: off, fixture: fixture).execute(dry).status == .succeeded)
        var narrowed = ActionPolicy()
        narrowed.limits["restart_service"] = .init(enabled: false, budgetPerHour: 3, budgetPerDay: 7)
        #expect(await executor(engine, policy: narrowed, fixture: fixture).execute(restart).status == .refused)
        #expect(engine.calls.isEmpty)
        let unknown = await executor(engine, policy: ActionPolicy(), fixture: fixture).execute(Command(id: "c2", kind: "sh", params: ["c": "id"], issuedAt: Date()))
        #expect(unknown.status == .refused)
    }

    @Test func budgetsRefuseThroughTheExecutor() async throws {
        let fixture = try AgentStateFixture()
        let engine = FakeDockerEngine()
        engine.add("app")
        let executor = executor(engine, policy: ActionPolicy(), fixture: fixture)
        for index in 0..<3 {
            let result = await executor.execute(Command(id: "c\(index)", kind: "restart_service", params: ["service": "app"], issuedAt: Date()))
            #expect(result.status == .succeeded, "\(result.message)")
        }
        let fourth = await executor.execute(Command(id: "c4", kind: "restart_service", params: ["service": "app"], issuedAt: Date()))
        #expect(fourth.status == .refused && fourth.message.contains("budget spent"), "\(fourth.message)")
        #expect(engine.calls.count == 3)
    }
}

@Suite struct ParsingTests {
    @Test func envFiles() {
        let env = ComposeProject.parseEnvironment("""
            # comment
            COMPOSE_PROJECT_NAME=qfieldcloud
            POSTGRES_USER="qfield admin"
            export POSTGRES_DB=qfieldcloud_db # trailing
            EMPTY=
            COMPOSE_FILE=docker-compose.yml:docker-compose.override.standalone.yml
            """)
        #expect(env["COMPOSE_PROJECT_NAME"] == "qfieldcloud")
        #expect(env["POSTGRES_USER"] == "qfield admin")
        #expect(env["POSTGRES_DB"] == "qfieldcloud_db")
        #expect(env["EMPTY"] == "")
        #expect(env["COMPOSE_FILE"] == "docker-compose.yml:docker-compose.override.standalone.yml")
    }

    @Test func passwordsLeaveTheDSN() {
        let (url, password) = QueueDatabase.splitPassword("postgresql://admin:s%40cret@db.example:5432/qfieldcloud_db")
        #expect(url == "postgresql://admin@db.example:5432/qfieldcloud_db")
        #expect(password == "s@cret")
        #expect(QueueDatabase.splitPassword("postgresql://admin@db/x").1 == nil)
    }

    @Test func onlyPsqlsConnectionErrorIsUnreachableAProbeThatCannotLookSaysSo() {
        func outcome(_ status: Int32, _ stderr: String = "", timedOut: Bool = false) -> ProcessOutcome {
            ProcessOutcome(status: status, stdout: "", stderr: stderr, timedOut: timedOut)
        }
        let compose = ComposeProject(project: "qfieldcloud", directory: "/opt/qfieldcloud", dockerSocket: "/nonexistent", runner: FakeRunner())
        let exec = QueueDatabase.Target.dockerExec(compose)
        let dsn = QueueDatabase.Target.dsn("postgresql://u@h/db")
        #expect(QueueDatabase.classify(outcome(0), target: dsn) == nil)
        guard case .failed(let why)? = QueueDatabase.classify(outcome(3, "ERROR:  relation \"core_job\" does not exist"), target: dsn) else {
            Issue.record("exit 3 is an error in the SQL"); return
        }
        #expect(why.contains("core_job"))
        // The database refused or timed out, in psql's own words: unreachable, with the evidence.
        for words in ["psql: error: connection to server at \"db\" (172.18.0.2), port 5432 failed: Connection refused",
                      "psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory",
                      "psql: error: connection to server at \"db\" failed: timeout expired",
                      "psql: error: FATAL:  the database system is starting up",
                      "psql: error: connection to server failed: password=hunter2"] {
            guard case .unreachable(let refused)? = QueueDatabase.classify(outcome(2, words), target: exec) else {
                Issue.record("\(words) is the database refusing"); continue
            }
            #expect(!refused.contains("hunter2"), "stderr is redacted: \(refused)")
        }
        // psql missing or not executable in the db container: could not look, never unreachable.
        for status: Int32 in [126, 127] {
            let error = QueueDatabase.classify(outcome(status, "OCI runtime exec failed: exec: \"psql\": executable file not found in $PATH"), target: exec)
            guard case .couldNotLook(let what, let fix)? = error else { Issue.record("exit \(status): \(String(describing: error))"); continue }
            #expect(what.contains("psql cannot run in the db container"))
            #expect(fix?.contains("mode = \"dsn\"") == true)
        }
        // Credentials or names that do not fit: the configuration, not the database's health.
        guard case .couldNotLook(_, let fix)? = QueueDatabase.classify(
            outcome(2, "psql: error: FATAL:  password authentication failed for user \"qfc\""), target: exec) else {
            Issue.record("a refused login is a configuration problem"); return
        }
        #expect(fix?.contains("POSTGRES_USER") == true)
        guard case .couldNotLook? = QueueDatabase.classify(outcome(2, "psql: error: FATAL:  role \"postgres\" does not exist"), target: exec) else {
            Issue.record("an unknown role is a configuration problem"); return
        }
        // An exit without a word, and the probe's own deadline: no evidence either way.
        guard case .couldNotLook(let silent, _)? = QueueDatabase.classify(outcome(1), target: exec) else {
            Issue.record("a silent exit is not evidence"); return
        }
        #expect(silent.contains("exited 1 without a message"))
        guard case .couldNotLook(let late, _)? = QueueDatabase.classify(outcome(-1, "", timedOut: true), target: dsn) else {
            Issue.record("the probe's own timeout is not evidence"); return
        }
        #expect(late.contains("did not finish"))
    }

    @Test func aQueueProbeThatCannotLookRaisesNoFindingAndSaysWhatWouldFixIt() async throws {
        let directory = NSTemporaryDirectory() + "fm-install-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "POSTGRES_USER=qfc_admin\nPOSTGRES_DB=qfc_db\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        let engine = FakeDockerEngine()
        engine.add("db")
        engine.execResult = ProcessOutcome(status: 127, stdout: "", stderr: "exec: \"psql\": executable file not found in $PATH", timedOut: false)
        let compose = ComposeProject(project: "qfieldcloud", directory: directory, dockerSocket: "/nonexistent", runner: FakeRunner())
        var database = QueueDatabase(target: .dockerExec(compose), runner: FakeRunner())
        database.engine = engine
        let probe = QueueProbe(database: database, stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 3600)
        let blind = await probe.collect()
        #expect(blind.findings.isEmpty, "no db.unreachable for a missing psql: \(blind.findings.map(\.code))")
        #expect(blind.error?.contains("psql cannot run in the db container") == true)
        #expect(blind.fix?.contains("mode = \"dsn\"") == true)
        let report = await ProbeSet(probes: [probe]).collect(agent: "vps-1")
        #expect(report.notChecked.map(\.name) == ["queue"])
        #expect(report.notChecked.first?.fix != nil)
        #expect(ReportFormatter.render(report, now: Date()).contains("could not look"))

        engine.execResult = ProcessOutcome(status: 2, stdout: "", stderr: "psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: Connection refused", timedOut: false)
        let refused = await probe.collect()
        #expect(refused.findings.map(\.code) == ["db.unreachable"])
        #expect(refused.findings.first?.evidence["psql_error"]?.contains("Connection refused") == true, "shown by psql's own connection error")

        // An external database (no db service): could not look, with the setting to use.
        let external = FakeDockerEngine()
        external.add("app")
        database.engine = external
        let noDb = await QueueProbe(database: database, stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 3600).collect()
        #expect(noDb.findings.isEmpty)
        #expect(noDb.error?.contains("no db service") == true)
        #expect(noDb.fix?.contains("dsn") == true)
    }

    @Test func dockerExecRunsPsqlInTheRunningDbContainerWithTheEnvsCredentials() async throws {
        let directory = NSTemporaryDirectory() + "fm-install-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "POSTGRES_USER=qfc_admin\nPOSTGRES_DB=qfc_db\nPOSTGRES_PASSWORD=not-needed\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        let engine = FakeDockerEngine()
        engine.add("db", state: "exited")
        engine.add("app")
        let compose = ComposeProject(project: "qfieldcloud", directory: directory, dockerSocket: "/nonexistent", runner: FakeRunner())
        var database = QueueDatabase(target: .dockerExec(compose), runner: FakeRunner())
        database.engine = engine

        do {
            _ = try await database.query("SELECT 1")
            Issue.record("a stopped db container means the probe could not look")
        } catch {
            guard case .couldNotLook(let why, _) = error else { Issue.record("\(error)"); return }
            #expect(why.contains("not running"), "\(why)")
        }
        #expect(engine.execs.isEmpty)

        engine.add("db")
        engine.execResult = ProcessOutcome(status: 0, stdout: "pending\tpackage\t2\n", stderr: "", timedOut: false)
        let rows = try await database.query("SELECT :'status'", variables: ["status": "pending"])
        #expect(rows == [["pending", "package", "2"]])
        let exec = try #require(engine.execs.first)
        #expect(exec.id == "db-id-2", "the running db container, not the exited one")
        #expect(Array(exec.command.prefix(5)) == ["psql", "-U", "qfc_admin", "-d", "qfc_db"])
        #expect(exec.command.contains("status=pending") && exec.command.suffix(2) == ["-f", "-"])
        #expect(exec.input == "SELECT :'status'", "the SQL goes in on stdin, values as psql variables")
        #expect(!exec.command.joined().contains("not-needed"), "the password is not passed")
        // psql and the server give up before the 30 s deadline: nothing runs on in the container.
        #expect(engine.execEnvironments.first == ["PGCONNECT_TIMEOUT=10", "PGOPTIONS=-c statement_timeout=28000"])
        #expect(!(engine.execEnvironments.first ?? []).joined().contains("not-needed"))

        engine.execResult = ProcessOutcome(status: 3, stdout: "", stderr: "ERROR:  relation \"core_job\" does not exist", timedOut: false)
        do {
            _ = try await database.query("SELECT * FROM core_job")
            Issue.record("exit 3 is a failed query")
        } catch {
            guard case .failed(let why) = error else { Issue.record("\(error)"); return }
            #expect(why.contains("core_job"))
        }
    }

    @Test func theExecStreamIsSplitIntoStdoutAndStderr() {
        func frame(_ stream: UInt8, _ text: String) -> Data {
            let bytes = Array(text.utf8)
            let size = UInt32(bytes.count)
            return Data([stream, 0, 0, 0, UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)] + bytes)
        }
        var data = frame(1, "row 1\n") + frame(2, "NOTICE: x\n") + frame(1, "row 2\n")
        var (out, err) = DockerEngineClient.split(data)
        #expect(out == "row 1\nrow 2\n" && err == "NOTICE: x\n")
        data += frame(1, "cut short").prefix(12)
        (out, err) = DockerEngineClient.split(data)
        #expect(out == "row 1\nrow 2\ncut " && err == "NOTICE: x\n", "a frame cut short keeps what arrived")
    }

    @Test func queueRows() {
        let stats = QueueProbe.parse([
            ["count", "pending", "package", "4", ""], ["count", "failed", "package", "2", ""], ["count", "pending", "delta_apply", "1", ""],
            ["oldest_pending", "", "", "3600", ""],
            ["stuck", "a1", "p1", "queued|package", "7200|true"],
            ["blocked", "1", "3", "", ""],
        ])
        #expect(stats.count("pending") == 5)
        #expect(stats.oldestPendingSeconds == 3600)
        #expect(stats.stuckJobs == [StuckJob(id: "a1", projectID: "p1", status: "queued", type: "package", ageSeconds: 7200, neverStarted: true)])
        #expect(stats.blockedProjects == 1 && stats.blockedPendingJobs == 3)
    }

    @Test func dockerLogFramesAndDates() {
        var framed = Data([1, 0, 0, 0, 0, 0, 0, 6])
        framed.append(Data("hello\n".utf8))
        framed.append(Data([2, 0, 0, 0, 0, 0, 0, 4]))
        framed.append(Data("err\n".utf8))
        #expect(DockerEngineClient.demultiplex(framed) == "hello\nerr\n")
        #expect(DockerEngineClient.date("2026-11-22T14:53:31.312272876Z") == WireDate.parse("2026-11-22T14:53:31.312Z"))
        #expect(DockerEngineClient.date("0001-01-01T00:00:00Z") == nil)
        #expect(TLSProbe.parseCurlDate("Feb  3 23:59:59 2027 GMT") == WireDate.parse("2027-02-03T23:59:59Z"))
    }

    @Test func statusBodies() {
        #expect(StatusProbe.findings(AppStatus(url: "u", httpStatus: 200, components: ["database": "ok", "storage": "ok"], error: nil)).isEmpty)
        #expect(StatusProbe.findings(AppStatus(url: "u", httpStatus: 200, components: ["geodb": "error", "storage": "ok"], error: nil)).map(\.code) == ["app.status_error"])
        #expect(StatusProbe.findings(AppStatus(url: "u", httpStatus: nil, components: [:], error: "refused")).map(\.code) == ["app.status_error"])
    }
}
