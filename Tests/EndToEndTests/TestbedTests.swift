import Foundation
import GRDB
import Logging
import Testing
@testable import HostAgent
@testable import Shared

/// Probes and actions against the real private Docker engine, the QFieldCloud-shaped testbed
/// and a real PostgreSQL with the real `core_job` table. Faults are injected for real.
/// Every suite that changes the one shared testbed (services, worker mode, status endpoint)
/// runs under this parent, one test at a time: Swift Testing runs sibling suites in parallel.
@Suite(.serialized) enum SharedTestbed {}

extension SharedTestbed {
@Suite(.serialized) struct TestbedTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
    }

    func context(settle: TimeInterval = 2, maxStuckJobs: Int = 50, queue: Bool = true) -> ActionContext {
        var policy = ActionPolicy()
        policy.settle = settle
        policy.maxStuckJobs = maxStuckJobs
        let runner = SubprocessRunner()
        return ActionContext(
            agent: "testbed", engine: engine,
            compose: ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: runner),
            queue: queue ? QueueDatabase(target: .dsn(env.pgDSN), runner: runner, psql: PsqlLocator.locate()) : nil,
            policy: policy, stuckJobAfter: 20 * 60, commandID: "test-command")
    }

    func probe() -> DockerProbe {
        DockerProbe(engine: engine, project: env.project, requiredServices: ["app", "nginx", "worker_wrapper"])
    }

    func parameters(_ action: String, _ values: [String: String] = [:]) -> ActionParameters {
        ActionParameters(values: values, action: action)
    }

    // MARK: Docker probe

    @Test func aHealthyTestbedHasNoFindingsAndOneShotsAreNotDown() async throws {
        let result = await probe().collect()
        #expect(result.error == nil)
        guard case .docker(let services, let disk) = result.section else { Issue.record("no docker section"); return }
        #expect(Set(services.map(\.service)).isSuperset(of: ["app", "nginx", "worker_wrapper", "db", "qgis3", "qgis4"]))
        let qgis = try #require(services.first { $0.service == "qgis3" })
        #expect(qgis.state == "exited" && qgis.exitCode == 0 && qgis.oneShot)
        #expect(result.findings.isEmpty, "\(result.findings)")
        #expect((disk?.imagesBytes ?? 0) > 0)
    }

    @Test func aStoppedWorkerIsDownAndStartServiceBringsItBackVerified() async throws {
        try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
        let found = await probe().collect().findings
        #expect(found.contains { $0.code == "service.down" && $0.subject == "worker_wrapper" }, "\(found)")
        let outcome = try await StartServiceAction().run(parameters("start_service", ["service": "worker_wrapper"]), dryRun: false, context())
        #expect(outcome.verified == true, "\(outcome)")
        #expect(outcome.before.values.contains("exited"))
        #expect(outcome.after.values.contains("running"))
        #expect(await probe().collect().findings.isEmpty)
    }

    @Test func aDryRunChangesNothingAndARestartIsVerified() async throws {
        let id = try #require(try env.containerIDs("worker_wrapper").first)
        let startedBefore = try env.inspect(id, "{{.State.StartedAt}}")
        let dry = try await RestartServiceAction().run(parameters("restart_service", ["service": "worker_wrapper"]), dryRun: true, context())
        #expect(dry.dryRun && dry.verified == nil)
        #expect(dry.plan.first?.contains("restart container") == true, "\(dry.plan)")
        #expect(try env.inspect(id, "{{.State.StartedAt}}") == startedBefore, "a dry run restarted the container")
        let real = try await RestartServiceAction().run(parameters("restart_service", ["service": "worker_wrapper"]), dryRun: false, context())
        #expect(real.verified == true, "\(real)")
        #expect(try env.inspect(id, "{{.State.StartedAt}}") != startedBefore)
    }

    @Test func anUnknownServiceIsRefusedAndNothingHappens() async throws {
        do {
            _ = try await RestartServiceAction().run(parameters("restart_service", ["service": "nope"]), dryRun: false, context())
            Issue.record("an unknown service must be refused")
        } catch {
            #expect(error.description.contains("no service \"nope\""), "\(error)")
            #expect(error.description.contains("worker_wrapper"))
        }
        do {
            _ = try await RestartServiceAction().run(parameters("restart_service", ["service": "app", "cmd": "rm -rf /"]), dryRun: false, context())
            Issue.record("an unknown parameter must be refused")
        } catch {
            #expect(error.description.contains("takes no parameter \"cmd\""), "\(error)")
        }
    }

    @Test func aCrashLoopIsFoundAndARestartThatDoesNotHoldIsNotVerified() async throws {
        try env.workerMode(.crash)
        try env.crash("worker_wrapper")
        let id = try #require(try env.containerIDs("worker_wrapper").first)
        try env.waitUntil("worker_wrapper crash-loops", timeout: 60) {
            let restarts = Int(try env.inspect(id, "{{.RestartCount}}")) ?? 0
            return restarts >= 2
        }
        try await env.waitUntilAsync("the probe sees it", timeout: 30) {
            await probe().collect().findings.contains { ["service.restarting", "service.down"].contains($0.code) && $0.subject == "worker_wrapper" }
        }
        let failing = try await RestartServiceAction().run(parameters("restart_service", ["service": "worker_wrapper"]), dryRun: false, context(settle: 3))
        #expect(failing.verified == false, "a restart into a crash loop must not verify: \(failing)")
        try env.workerMode(.ok)
        let fixed = try await RestartServiceAction().run(parameters("restart_service", ["service": "worker_wrapper"]), dryRun: false, context(settle: 2))
        #expect(fixed.verified == true, "\(fixed)")
    }

    @Test func anOOMKillIsFound() async throws {
        try env.workerMode(.oom)
        let id = try #require(try env.containerIDs("worker_wrapper").first)
        // Restart by hand: after earlier crashes the restart policy may wait a minute.
        try env.docker(["restart", "-t", "1", id])
        // The kernel kills it at the 64 MiB limit; the probe sees it between restarts.
        var finding: Finding?
        try await env.waitUntilAsync("the probe reports the OOM kill", timeout: 90) {
            finding = await probe().collect().findings.first { $0.code == "service.oom_killed" && $0.subject == "worker_wrapper" }
            return finding != nil
        }
        // Either the engine's own flag (it stays set after the policy restarts the container,
        // so the exit code may already be 0 again) or its oom event next to an exit 137.
        let evidence = finding?.evidence["oom_killed"] ?? ""
        #expect(evidence == "true" || evidence.hasPrefix("not set by the engine; its oom event at "), "\(String(describing: finding))")
        #expect(finding?.evidence["memory_limit_bytes"] == String(64 << 20))
        // The engine replays the kill's oom event when asked about the time of the exit.
        let finished = try #require(try engine.inspect(id).finishedAt)
        let events = try engine.oomEvents(id, since: finished.addingTimeInterval(-30), until: min(finished.addingTimeInterval(5), Date()))
        #expect(!events.isEmpty, "no oom event around \(finished)")
        try env.workerMode(.ok)
    }

    @Test func aWorkerKilledByHandIsDownNotAnOOMKill() async throws {
        try env.workerMode(.ok)
        let id = try #require(try env.containerIDs("worker_wrapper").first)
        // SIGKILL under the 64 MiB limit: exit 137 like the OOM killer's, and no oom event.
        try env.docker(["kill", id])
        try env.waitUntil("worker_wrapper exited 137", timeout: 30) { try env.inspect(id, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137" }
        let findings = await probe().collect().findings.filter { $0.subject == "worker_wrapper" }
        #expect(findings.map(\.code) == ["service.down"], "\(findings.map { "\($0.code): \($0.message) \($0.evidence)" })")
        #expect(findings.first?.evidence["exit_code"] == "137")
    }

    @Test func recreateGoesThroughComposeWithTheInstallsEnv() async throws {
        let before = try env.containerIDs("nginx")
        let outcome = try await RecreateServiceAction().run(parameters("recreate_service", ["service": "nginx"]), dryRun: false, context())
        #expect(outcome.verified == true, "\(outcome)")
        let after = try env.containerIDs("nginx")
        #expect(!after.isEmpty && Set(after).isDisjoint(with: before), "compose did not recreate nginx: \(before) → \(after)")
    }

    @Test func collectLogsRedactsSecrets() async throws {
        try env.docker([
            "run", "-d", "--name", "\(env.project)_leaky_1", "--label", "com.docker.compose.project=\(env.project)",
            "--label", "com.docker.compose.service=leaky", env.image, "sh", "-c",
            "echo POSTGRES_PASSWORD=hunter2; echo 'Authorization: Bearer abcdefghijklmnop1234'; echo all good; sleep 3600",
        ])
        defer { _ = try? env.docker(["rm", "-f", "\(env.project)_leaky_1"]) }
        try env.waitUntil("the leaky container logged", timeout: 30) {
            try env.docker(["logs", "\(env.project)_leaky_1"]).stdout.contains("all good")
        }
        let outcome = try await CollectLogsAction().run(parameters("collect_logs", ["service": "leaky", "lines": "50"]), dryRun: false, context())
        let output = try #require(outcome.output)
        #expect(output.contains("all good"))
        #expect(!output.contains("hunter2"), "\(output)")
        #expect(!output.contains("abcdefghijklmnop1234"), "\(output)")
    }

    // MARK: Prune

    @Test func pruneRemovesDanglingImagesAndKeepsEveryImageAContainerUses() async throws {
        // A dangling image: import a tiny filesystem without a tag.
        let tarball = NSTemporaryDirectory() + "fm-dangling-\(UUID().uuidString).tar"
        try env.run("tar", ["-cf", tarball, "-C", env.testbedDir, "services"])
        defer { unlink(tarball) }
        let dangling = try env.docker(["import", tarball]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let qgis = try env.docker(["images", "-q", "--no-trunc", "\(env.project)-qgis3"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!qgis.isEmpty, "the testbed should have built \(env.project)-qgis3")

        let dry = try await PruneDockerAction().run(parameters("prune_docker"), dryRun: true, context())
        #expect(dry.plan.contains { $0.contains(String(dangling.prefix(19))) }, "\(dry.plan)")
        #expect(!dry.plan.contains { $0.contains(String(qgis.prefix(19))) })
        #expect(try env.docker(["image", "inspect", dangling], check: false).status == 0, "a dry run removed an image")

        let real = try await PruneDockerAction().run(parameters("prune_docker"), dryRun: false, context())
        #expect(real.verified == true, "\(real)")
        #expect(try env.docker(["image", "inspect", dangling], check: false).status != 0, "the dangling image is still there")
        for image in ["\(env.project)-qgis3", "\(env.project)-qgis4", env.image] {
            #expect(try env.docker(["image", "inspect", image], check: false).status == 0, "prune removed \(image)")
        }
    }

    // MARK: Queue

    func seedQueue() throws -> (stuckQueued: String, stuckStarted: String) {
        let stuckQueued = UUID().uuidString.lowercased()
        let stuckStarted = UUID().uuidString.lowercased()
        let project = UUID().uuidString.lowercased()
        _ = try env.psql("""
            DELETE FROM core_job;
            INSERT INTO core_job (id, project_id, type, status, created_by_id, triggered_by_id, created_at, updated_at, started_at) VALUES
              ('\(stuckQueued)', '\(project)', 'package', 'queued', 1, 1, now() - interval '2 hours', now() - interval '2 hours', NULL),
              ('\(stuckStarted)', gen_random_uuid(), 'delta_apply', 'started', 1, 1, now() - interval '3 hours', now() - interval '3 hours', now() - interval '3 hours'),
              (gen_random_uuid(), '\(project)', 'package', 'pending', 1, 1, now() - interval '90 minutes', now() - interval '90 minutes', NULL),
              (gen_random_uuid(), gen_random_uuid(), 'package', 'started', 1, 1, now(), now(), now()),
              (gen_random_uuid(), gen_random_uuid(), 'package', 'finished', 1, 1, now() - interval '1 day', now(), now() - interval '1 day');
            """)
        return (stuckQueued, stuckStarted)
    }

    @Test func theQueueProbeFindsStuckJobsAndTheProjectsTheyBlock() async throws {
        let (stuckQueued, stuckStarted) = try seedQueue()
        let database = QueueDatabase(target: .dsn(env.pgDSN), runner: SubprocessRunner(), psql: PsqlLocator.locate())
        let result = await QueueProbe(database: database, stuckAfter: 20 * 60, backlogThreshold: 50, oldestPendingThreshold: 3600).collect()
        #expect(result.error == nil, "\(result.error ?? "")")
        guard case .queue(let stats) = result.section else { Issue.record("no queue section"); return }
        #expect(Set(stats.stuckJobs.map(\.id)) == [stuckQueued, stuckStarted])
        #expect(stats.stuckJobs.first { $0.id == stuckQueued }?.neverStarted == true)
        #expect(stats.blockedProjects == 1 && stats.blockedPendingJobs == 1)
        #expect(stats.count("pending") == 1 && stats.count("finished") == 1)
        #expect(Set(result.findings.map(\.code)) == ["queue.stuck", "queue.backlog"], "\(result.findings)")
    }

    /// `queue.mode = "docker-exec"`, the default on a real install: psql runs inside the db
    /// container (the Engine API's exec, as `docker compose exec -T db psql` would) as
    /// POSTGRES_USER on POSTGRES_DB from .env.
    @Test func insideTheDbContainerTheQueueProbeSeesTheSameQueueAndAStoppedDbIsDownNotUnreachable() async throws {
        let (stuckQueued, stuckStarted) = try seedQueue()
        let runner = SubprocessRunner()
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: runner)
        let database = QueueDatabase(target: .dockerExec(compose), runner: runner)
        let probe = QueueProbe(database: database, stuckAfter: 20 * 60, backlogThreshold: 50, oldestPendingThreshold: 3600)
        let result = await probe.collect()
        #expect(result.error == nil, "\(result.error ?? "")")
        guard case .queue(let stats) = result.section else { Issue.record("no queue section: \(result)"); return }
        #expect(Set(stats.stuckJobs.map(\.id)) == [stuckQueued, stuckStarted])
        #expect(stats.blockedProjects == 1 && stats.count("pending") == 1)
        #expect(Set(result.findings.map(\.code)) == ["queue.stuck", "queue.backlog"], "\(result.findings)")

        // The action goes the same way: the dry run names the rows and changes none; the run marks them.
        var actionContext = context()
        actionContext.queue = database
        let dry = try await FailStuckJobsAction().run(parameters("fail_stuck_jobs", ["older_than": "30m"]), dryRun: true, actionContext)
        #expect(dry.plan.contains { $0.contains(stuckQueued) } && dry.plan.contains { $0.contains(stuckStarted) }, "\(dry.plan)")
        #expect(try env.psql("SELECT count(*) FROM core_job WHERE status = 'failed'") == "0")
        let real = try await FailStuckJobsAction().run(parameters("fail_stuck_jobs", ["older_than": "30m"]), dryRun: false, actionContext)
        #expect(real.verified == true, "\(real)")
        #expect(try env.psql("SELECT count(*) FROM core_job WHERE status = 'failed' AND finished_at IS NOT NULL") == "2")

        // A stopped db container: the queue probe could not look (no finding about the
        // database from it); the docker probe is the one that reports the container down.
        try env.docker(["stop", "-t", "1"] + env.containerIDs("db"))
        let down = await probe.collect()
        #expect(down.findings.isEmpty, "\(down.findings)")
        #expect(down.error?.contains("not running") == true, "\(down.error ?? "")")
        let docker = await DockerProbe(engine: engine, project: env.project, requiredServices: ["db"]).collect()
        #expect(docker.findings.contains { $0.code == "service.down" && $0.subject == "db" }, "\(docker.findings)")
    }

    /// The Engine API cannot stop an exec: a query longer than the probe's deadline must be
    /// ended by the server, not left running in the db container with its locks.
    @Test func aSlowQueryInTheDbContainerIsCancelledByTheServerBeforeTheDeadline() async throws {
        let runner = SubprocessRunner()
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: runner)
        var database = QueueDatabase(target: .dockerExec(compose), runner: runner)
        database.timeout = 10  // statement_timeout 8 s
        let started = Date()
        do {
            _ = try await database.query("SELECT pg_sleep(60) /* fieldmedic-slow-query-test */")
            Issue.record("a 60 s query must not finish within the 10 s deadline")
        } catch {
            guard case .failed(let why) = error else { Issue.record("not cancelled by the server: \(error)"); return }
            #expect(why.contains("statement timeout"), "\(why)")
        }
        let elapsed = Date().timeIntervalSince(started)
        print("slow query: ended by the server after \(String(format: "%.2f", elapsed)) s (statement_timeout 8 s, deadline 10 s)")
        #expect(elapsed < 10, "ended after \(elapsed) s")
        // Nothing of it runs on in PostgreSQL.
        let left = try env.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%fieldmedic-slow-query-test%' AND pid <> pg_backend_pid()")
        #expect(left == "0", "\(left) backend(s) still run the query")
    }

    @Test func execInAContainerGivesStdinItsEndSplitsTheStreamsAndKeepsItsDeadline() throws {
        let id = try #require(try env.containerIDs("memcached", all: false).first)
        let echoed = try engine.exec(id, command: ["cat"], input: Data("one\ntwo\n".utf8), timeout: 20)
        #expect(echoed == ProcessOutcome(status: 0, stdout: "one\ntwo\n", stderr: "", timedOut: false), "cat ends only when its stdin does: \(echoed)")
        let large = String(repeating: "0123456789abcdef", count: 64 * 1024)  // 1 MiB each way
        let big = try engine.exec(id, command: ["cat"], input: Data(large.utf8), timeout: 30)
        #expect(big.stdout.count == large.count && big.status == 0)
        let failing = try engine.exec(id, command: ["ls", "/no/such/dir"], input: Data(), timeout: 20)
        #expect(failing.status != 0 && failing.stdout.isEmpty && failing.stderr.contains("/no/such/dir"), "\(failing)")
        let missing = try engine.exec(id, command: ["no-such-program"], input: Data(), timeout: 20)
        #expect(missing.status == 126 || missing.status == 127, "\(missing)")
        let slow = try engine.exec(id, command: ["sleep", "30"], input: Data(), timeout: 1)
        #expect(slow.timedOut, "\(slow)")
        let stopped = try #require(try env.containerIDs("certbot").first)
        try env.docker(["stop", "-t", "1", stopped])
        do {
            _ = try engine.exec(stopped, command: ["true"], input: Data(), timeout: 10)
            Issue.record("exec in a stopped container must fail")
        } catch {
            #expect(error.description.contains("409") || error.description.contains("not running"), "\(error)")
        }
    }

    @Test func failStuckJobsDryRunChangesNothingAndTheRunMarksNotDeletes() async throws {
        let (stuckQueued, stuckStarted) = try seedQueue()
        let before = try env.psql("SELECT id, status, COALESCE(finished_at::text, '') FROM core_job ORDER BY id")
        let dry = try await FailStuckJobsAction().run(parameters("fail_stuck_jobs", ["older_than": "30m"]), dryRun: true, context())
        #expect(dry.plan.contains { $0.contains(stuckQueued) } && dry.plan.contains { $0.contains(stuckStarted) }, "\(dry.plan)")
        #expect(try env.psql("SELECT id, status, COALESCE(finished_at::text, '') FROM core_job ORDER BY id") == before, "a dry run changed rows")

        let capped = try await FailStuckJobsAction().run(parameters("fail_stuck_jobs", ["older_than": "30m"]), dryRun: false, context(maxStuckJobs: 1))
        #expect(capped.plan.contains { $0.contains("leave 1 more") }, "\(capped.plan)")
        #expect(try env.psql("SELECT count(*) FROM core_job WHERE status = 'failed'") == "1")

        let real = try await FailStuckJobsAction().run(parameters("fail_stuck_jobs", ["older_than": "30m"]), dryRun: false, context())
        #expect(real.verified == true, "\(real)")
        #expect(try env.psql("SELECT count(*) FROM core_job") == "5", "rows were deleted")
        let marked = try env.psql("""
            SELECT count(*) FROM core_job WHERE id IN ('\(stuckQueued)', '\(stuckStarted)') AND status = 'failed'
               AND finished_at IS NOT NULL AND feedback->'fieldmedic'->>'marked_failed_by' = 'fieldmedic-agent testbed'
            """)
        #expect(marked == "2")
        #expect(try env.psql("SELECT status FROM core_job WHERE type = 'package' AND status = 'started'") == "started", "a fresh job was touched")
    }

    @Test func anUnreachableDatabaseIsAFindingNotACrash() async throws {
        let database = QueueDatabase(target: .dsn("postgresql://nobody:secret@127.0.0.1:1/none"), runner: SubprocessRunner())
        let result = await QueueProbe(database: database, stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 1800).collect()
        #expect(result.findings.map(\.code) == ["db.unreachable"], "\(result.findings)")
        #expect(!(result.error ?? "").contains("secret"))
    }

    // MARK: Status endpoint

    @Test func theStatusEndpointsBodyDecides() async throws {
        let url = "http://127.0.0.1:\(env.appPort)/api/v1/status/"
        #expect(await StatusProbe(url: url, host: "localhost").collect().findings.isEmpty)
        try env.setStatus(#"{"database":"error","storage":"ok"}"#)
        let findings = await StatusProbe(url: url, host: "localhost").collect().findings
        #expect(findings.map(\.code) == ["app.status_error"])
        #expect(findings.first?.evidence["database"] == "error")
        try env.setStatus(#"{"database":"ok","storage":"ok"}"#)
        // Through nginx with the wrong Host: no answer at all, and the finding says why.
        let viaNginx = await StatusProbe(url: "http://127.0.0.1:\(env.httpPort)/api/v1/status/", host: "wrong.example").collect()
        #expect(viaNginx.findings.first?.message.contains("Host") == true, "\(viaNginx.findings)")
        #expect(await StatusProbe(url: "http://127.0.0.1:\(env.httpPort)/api/v1/status/", host: "localhost").collect().findings.isEmpty)
    }

    // MARK: Events

    @Test func aCrashedWorkerShowsUpOnTheEventStream() throws {
        let abort = AbortFlag()
        let seen = LockedValue<[String]>([])
        let follower = Thread { [engine, project = env.project] in
            try? engine.followEvents(project: project, abort: abort) { event in
                if event.service == "worker_wrapper" { seen.withLock { $0.append(event.action) } }
                return true
            }
        }
        follower.start()
        defer { abort.set() }
        // The stream is open once an unrelated event comes through; use a restart of ofelia.
        try env.waitUntil("the event stream is connected", timeout: 30) {
            _ = try env.docker(["restart", "-t", "0"] + env.containerIDs("memcached"))
            return true
        }
        let crashed = Date()
        try env.crash("worker_wrapper")
        try env.waitUntil("the die event arrives", timeout: 10) { seen.value.contains("die") }
        print("event stream: die seen \(String(format: "%.3f", Date().timeIntervalSince(crashed)))s after the crash")
    }

    // MARK: Through the channel

    func testbedAgent(_ h: Harness, actions: String = "enabled = true") throws {
        try h.initCoordinator()
        try h.startCoordinator()
        try h.enrollAgent("vps-1")
        try h.writeAgentConfig("vps-1", env.agentConfig(actions: actions))
        try h.startAgent("vps-1")
        try h.waitUntil("the first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
    }

    func latestReport(_ h: Harness) throws -> HealthReport? {
        let response = try h.operatorGET("/operator/agents/vps-1")
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        guard let report = object?["latestReport"] else { return nil }
        return try WireCodec.decodeStored(HealthReport.self, from: try JSONSerialization.data(withJSONObject: report))
    }

    func runJSON(_ h: Harness, _ arguments: [String]) throws -> (Int32, [String: Any]) {
        let output = try h.coordinator(["run", "vps-1"] + arguments + ["--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
        return (output.status, object)
    }

    @Test func aStoppedWorkerIsSeenAtOnceAndFixedThroughTheChannel() throws {
        let h = try Harness()
        try testbedAgent(h)
        let stopped = Date()
        try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
        // The report interval is 30 s: only the event stream can bring this in time.
        try h.waitUntil("a report shows worker_wrapper down", timeout: 15) {
            try latestReport(h)?.findings.contains { $0.code == "service.down" && $0.subject == "worker_wrapper" } == true
        }
        print("stopped worker seen at the coordinator \(String(format: "%.2f", Date().timeIntervalSince(stopped)))s after docker stop")

        let (dryStatus, dry) = try runJSON(h, ["start_service", "--param", "service=worker_wrapper", "--dry-run"])
        #expect(dryStatus == 0, "\(dry)")
        let dryAction = (dry["result"] as? [String: Any])?["action"] as? [String: Any]
        #expect(dryAction?["dryRun"] as? Bool == true)
        #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "exited", "the dry run started it")

        let (status, fixed) = try runJSON(h, ["start_service", "--param", "service=worker_wrapper"])
        #expect(status == 0, "\(fixed)")
        let action = (fixed["result"] as? [String: Any])?["action"] as? [String: Any]
        #expect(action?["verified"] as? Bool == true, "\(fixed)")
        #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "running")

        // Budgets: three restarts of worker_wrapper in an hour, the fourth refused.
        for attempt in 1...3 {
            let (code, record) = try runJSON(h, ["restart_service", "--param", "service=worker_wrapper"])
            #expect(code == 0, "restart \(attempt): \(record)")
        }
        let (refusedCode, refused) = try runJSON(h, ["restart_service", "--param", "service=worker_wrapper"])
        #expect(refusedCode == 1)
        #expect(refused["state"] as? String == "refused", "\(refused)")
        #expect(((refused["result"] as? [String: Any])?["message"] as? String)?.contains("budget spent") == true, "\(refused)")

        // The table an operator reads.
        let table = try h.coordinator(["run", "vps-1", "prune_docker", "--dry-run"])
        try table.expectSuccess("run prune_docker --dry-run")
        #expect(table.stdout.contains("DRY RUN"), "\(table.stdout)")
        try h.stopAgent("vps-1")
        try h.stopCoordinator()
        let actions = try h.auditActions()
        #expect(actions.filter { $0 == "command.result" }.count >= 6)
    }

    @Test func theHostsKillSwitchRefusesEveryAction() throws {
        let h = try Harness()
        try testbedAgent(h, actions: "enabled = false")
        let id = try #require(try env.containerIDs("worker_wrapper").first)
        let before = try env.inspect(id, "{{.State.StartedAt}}")
        let (code, record) = try runJSON(h, ["restart_service", "--param", "service=worker_wrapper"])
        #expect(code == 1)
        #expect(record["state"] as? String == "refused")
        #expect(try env.inspect(id, "{{.State.StartedAt}}") == before)
        // Reading logs is still allowed.
        let (logsCode, logs) = try runJSON(h, ["collect_logs", "--param", "service=worker_wrapper", "--param", "lines=5"])
        #expect(logsCode == 0, "\(logs)")
        try h.stopAgent("vps-1")
        try h.stopCoordinator()
    }
}
}
