import Foundation
import Testing
@testable import Coordinator
@testable import HostAgent
@testable import Shared

/// The shapes real hosts have, generated on the real private engine: another project name,
/// several compose files through `COMPOSE_FILE` and `COMPOSE_PATH_SEPARATOR`, a scaled
/// worker, compose v1 (`proj_svc_1`) and v2 (`proj-svc-1`) container names, a healthcheck,
/// and a `db` container without `psql`. For each shape: a killed replica is found and only it
/// is started (the other keeps its StartedAt); with no fault nothing is found and nothing
/// done; the queue probe says it could not look instead of calling the database unreachable.
@Suite(.serialized) struct InstallShapeTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
    }

    enum Naming: String, CaseIterable { case composeV1, composeV2 }

    /// One generated install: its project, and the containers of its scaled worker in order.
    struct Install {
        var project: String
        var directory: String
        var workers: [String]
        var naming: Naming
    }

    func uniqueProject(_ naming: Naming) -> String {
        "shape\(naming == .composeV1 ? "v1" : "v2")\(UInt32.random(in: 0...UInt32.max) % 1_000_000)"
    }

    /// compose v1 with two files chosen by `.env` (`;` as the separator), the worker scaled
    /// to two and the app with a healthcheck; v2 names made as compose v2 makes them.
    func install(_ naming: Naming) throws -> Install {
        let project = uniqueProject(naming)
        let directory = env.testbedDir + "/../" + project
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        switch naming {
        case .composeV1:
            let base = """
                version: "2.4"
                services:
                  app:
                    image: \(env.image)
                    restart: unless-stopped
                    command: ["sleep", "100000"]
                    healthcheck:
                      test: ["CMD", "true"]
                      interval: 1s
                      retries: 3
                  worker_wrapper:
                    image: \(env.image)
                    restart: unless-stopped
                    command: ["sleep", "100000"]
                    scale: ${QFIELDCLOUD_WORKER_REPLICAS}
                """
            // The second file adds the database: busybox, so no psql in it.
            let standalone = """
                version: "2.4"
                services:
                  db:
                    image: \(env.image)
                    restart: unless-stopped
                    command: ["sleep", "100000"]
                """
            try base.write(toFile: directory + "/docker-compose.yml", atomically: true, encoding: .utf8)
            try standalone.write(toFile: directory + "/docker-compose.override.standalone.yml", atomically: true, encoding: .utf8)
            try """
                COMPOSE_PROJECT_NAME=\(project)
                COMPOSE_PATH_SEPARATOR=;
                COMPOSE_FILE=docker-compose.yml;docker-compose.override.standalone.yml
                QFIELDCLOUD_WORKER_REPLICAS=2
                POSTGRES_USER=qfieldcloud_db_admin
                POSTGRES_DB=qfieldcloud_db

                """.write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
            try env.compose(in: directory, ["up", "-d"])
        case .composeV2:
            try "COMPOSE_PROJECT_NAME=\(project)\nPOSTGRES_USER=qfieldcloud_db_admin\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
            for (service, number) in [("app", 1), ("worker_wrapper", 1), ("worker_wrapper", 2), ("db", 1)] {
                var arguments = ["run", "-d", "--name", "\(project)-\(service)-\(number)", "--restart", "unless-stopped",
                                 "--label", "com.docker.compose.project=\(project)", "--label", "com.docker.compose.service=\(service)",
                                 "--label", "com.docker.compose.container-number=\(number)", "--label", "com.docker.compose.oneoff=False"]
                if service == "app" { arguments += ["--health-cmd", "true", "--health-interval", "1s"] }
                try env.docker(arguments + [env.image, "sleep", "100000"])
            }
        }
        let install = Install(project: project, directory: directory, workers: try workers(project), naming: naming)
        #expect(install.workers.count == 2, "\(naming): two worker replicas: \(install.workers)")
        let separator = naming == .composeV1 ? "_" : "-"
        #expect(install.workers.allSatisfy { $0.hasPrefix(project + separator + "worker_wrapper" + separator) }, "\(install.workers)")
        try env.waitUntil("\(project) is up and its app healthy", timeout: 60) {
            let states = try DockerProbe(engine: engine, project: project, requiredServices: ["app", "worker_wrapper", "db"]).services()
            return states.count == 4 && states.allSatisfy { $0.state == "running" && ($0.health == nil || $0.health == "healthy") }
        }
        return install
    }

    func remove(_ install: Install) throws {
        let ids = try env.docker(["ps", "-aq", "--filter", "label=com.docker.compose.project=\(install.project)"]).stdout
            .split(separator: "\n").map(String.init)
        if !ids.isEmpty { try env.docker(["rm", "-f"] + ids) }
        if install.naming == .composeV1 { _ = try? env.compose(in: install.directory, ["down", "-t", "1"]) }
        try? FileManager.default.removeItem(atPath: install.directory)
    }

    func workers(_ project: String) throws -> [String] {
        try engine.containers(project: project).filter { $0.service == "worker_wrapper" }.map(\.name).sorted()
    }

    func context(_ install: Install) -> ActionContext {
        var policy = ActionPolicy()
        policy.settle = 2
        return ActionContext(
            agent: "shape", engine: engine,
            compose: ComposeProject(project: install.project, directory: install.directory, dockerSocket: env.dockerSocket, runner: SubprocessRunner()),
            queue: nil, policy: policy, stuckJobAfter: 1200, commandID: "shape")
    }

    func startedAt(_ name: String) throws -> String { try env.inspect(name, "{{.State.StartedAt}}") }

    @Test(arguments: Naming.allCases)
    func aKilledReplicaIsStartedAloneInEveryShape(_ naming: Naming) async throws {
        let install = try install(naming)
        defer { try? remove(install) }
        let probe = DockerProbe(engine: engine, project: install.project, requiredServices: ["app", "worker_wrapper", "db"])

        // No fault: nothing found, nothing planned.
        let healthy = await probe.collect()
        #expect(healthy.findings.isEmpty, "\(naming): \(healthy.findings)")
        #expect(playbookSteps(healthy.findings).isEmpty)

        // Kill replica 2 (exit 137).
        let (first, second) = (install.workers[0], install.workers[1])
        let firstStart = try startedAt(first), appStart = try startedAt("\(install.project)\(naming == .composeV1 ? "_app_1" : "-app-1")")
        try env.docker(["kill", second])
        let found = await probe.collect().findings
        #expect(found.map(\.code) == ["service.down"], "\(naming): \(found)")
        let finding = try #require(found.first)
        #expect(finding.subject == "worker_wrapper" && finding.evidence["container"] == second && finding.evidence["exit_code"] == "137")

        // The agent runs the first step the coordinator's playbook would send: start that replica.
        let step = try #require(playbookSteps(found).first)
        #expect(step.action == "start_service" && step.params["container"] == second, "\(step)")
        let t0 = Date()
        let outcome = try await StartServiceAction().run(ActionParameters(values: step.params, action: step.action), dryRun: false, context(install))
        print("shape \(naming): killed replica started and verified in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s (settle 2 s)")
        #expect(outcome.verified == true)
        #expect(try env.inspect(second, "{{.State.Status}}") == "running")
        #expect(try startedAt(first) == firstStart, "the healthy replica was not touched")
        #expect(try startedAt("\(install.project)\(naming == .composeV1 ? "_app_1" : "-app-1")") == appStart, "nor anything else")
        #expect(outcome.after["\(first) started"] == outcome.before["\(first) started"])
        #expect(await probe.collect().findings.isEmpty)
    }

    @Test(arguments: Naming.allCases)
    func aDbWithoutPsqlIsNotCalledUnreachable(_ naming: Naming) async throws {
        let install = try install(naming)
        defer { try? remove(install) }
        let compose = ComposeProject(project: install.project, directory: install.directory, dockerSocket: env.dockerSocket, runner: SubprocessRunner())
        var database = QueueDatabase(target: .dockerExec(compose), runner: SubprocessRunner())
        database.timeout = 10
        let result = await QueueProbe(database: database, stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 3600).collect()
        #expect(result.findings.isEmpty, "\(naming): a missing psql is no finding about the database: \(result.findings)")
        #expect(result.error?.contains("psql cannot run in the db container") == true, "\(result.error ?? "")")
        #expect(result.fix?.contains("dsn") == true)

        // The same shape with the queue read through a DSN (an external database): it looks.
        let dsn = QueueDatabase(target: .dsn(env.pgDSN), runner: SubprocessRunner(), psql: PsqlLocator.locate())
        let looked = await QueueProbe(database: dsn, stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 3600).collect()
        #expect(looked.error == nil, "\(looked.error ?? "")")
    }

    /// The steps the coordinator's built-in playbook plans for these findings.
    func playbookSteps(_ findings: [Finding]) -> [(action: String, params: [String: String])] {
        Playbook.builtIn.plan(for: findings).plan.steps.map { (action: $0.action, params: $0.params) }
    }
}
