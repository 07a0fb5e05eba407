import Foundation
import Testing
@testable import Shared

/// Issue 11's generated install shapes through the whole ticket loop: the real coordinator
/// and agent binaries, the fake GitHub, and a complete QFieldCloud-shaped stack per shape
/// (scripts/testenv.sh `testbed_up` with another project name), then reshaped: several compose
/// files through `COMPOSE_FILE` (with and without `COMPOSE_PATH_SEPARATOR`), a scaled worker,
/// compose v2 container names (`proj-svc-1`, as compose v2 names them; this host's compose is
/// v1), an app with a healthcheck, a `db` without psql read through a DSN (as an external
/// database is) or through `docker exec` (which cannot look).
///
/// For each shape: with no fault a status request closes healthy (or, where a probe cannot
/// look, stays open and says what was not checked) and nothing is touched; each injected fault
/// is found, only the broken container is fixed (every other container keeps its StartedAt),
/// a stateful service waits for approval, and every ticket ends.
extension SharedTestbed {
@Suite(.serialized) struct InstallShapeTicketTests {
    let env: TestEnvironment
    let tickets: TicketEndToEndTests

    init() throws {
        env = try TestEnvironment.require()
        tickets = try TicketEndToEndTests()
    }

    struct Shape: CustomStringConvertible, Sendable {
        enum Naming: String, Sendable { case composeV1, composeV2 }
        enum Queue: String, Sendable { case dockerExec = "docker-exec", dsn }
        var project: String
        var naming: Naming
        /// Extra compose file next to docker-compose.yml (nil: one file), and the separator
        /// `.env` names (nil: compose's default ":").
        var overrideFile: Bool
        var separator: String?
        var workers: Int
        var healthcheck: Bool
        var psqlInDb: Bool
        var queue: Queue

        var description: String {
            "\(project) (\(naming.rawValue), \(overrideFile ? "2 compose files\(separator.map { " sep '\($0)'" } ?? "")" : "1 compose file"), "
                + "\(workers) worker(s)\(healthcheck ? ", app healthcheck" : ""), db \(psqlInDb ? "with" : "without") psql, queue \(queue.rawValue))"
        }
        /// True when every probe can look, so that a status request can be answered "healthy".
        var canLookEverywhere: Bool { queue == .dsn || psqlInDb }
    }

    /// The generated shapes. Project names differ from the testbed's and from each other.
    static let shapes: [Shape] = [
        Shape(project: "fieldops", naming: .composeV1, overrideFile: true, separator: ";", workers: 2, healthcheck: true, psqlInDb: true, queue: .dockerExec),
        Shape(project: "qfc-prod", naming: .composeV2, overrideFile: true, separator: nil, workers: 2, healthcheck: true, psqlInDb: false, queue: .dsn),
        Shape(project: "acme_qfield", naming: .composeV1, overrideFile: false, separator: nil, workers: 1, healthcheck: false, psqlInDb: false, queue: .dockerExec),
    ]

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Brings the shape up: the testbed under another project name, then its files, scale
    /// and names changed as the shape says. Returns the install directory.
    func bringUp(_ shape: Shape) throws -> String {
        let directory = env.testbedDir + "/../shape-" + shape.project
        try? FileManager.default.removeItem(atPath: directory)
        try env.run("bash", ["-c", #"source "$0/scripts/testenv.sh" && testbed_up "$1" "$2""#, Self.repoRoot, directory, shape.project])
        var dotenv = try String(contentsOfFile: directory + "/.env", encoding: .utf8)
        dotenv = dotenv.replacingOccurrences(of: "QFIELDCLOUD_WORKER_REPLICAS=1", with: "QFIELDCLOUD_WORKER_REPLICAS=\(shape.workers)")
        // Its own ENVIRONMENT: two stacks on one engine with the same one share a worker
        // label and kill each other's jobs (worker.cannot_start, QFieldCloud #1822).
        dotenv = dotenv.replacingOccurrences(of: "ENVIRONMENT=test", with: "ENVIRONMENT=\(shape.project)")
        if shape.overrideFile {
            var services = ""
            if shape.healthcheck {
                // /run is a tmpfs: a restart clears the "wedged" mark, as a restart unwedges a
                // hung gunicorn.
                services += """
                      app:
                        healthcheck:
                          test: ["CMD", "sh", "-c", "test ! -e /run/wedged"]
                          interval: 1s
                          timeout: 2s
                          retries: 2
                        tmpfs:
                          - /run

                    """
            }
            if !shape.psqlInDb { services += "  db:\n    image: \(env.image)\n" }
            try "services:\n\(services)".write(toFile: directory + "/docker-compose.shape.yml", atomically: true, encoding: .utf8)
            let files = ["docker-compose.yml", "docker-compose.shape.yml"].joined(separator: shape.separator ?? ":")
            dotenv = dotenv.replacingOccurrences(of: "COMPOSE_FILE=docker-compose.yml", with: "COMPOSE_FILE=\(files)")
            if let separator = shape.separator { dotenv += "COMPOSE_PATH_SEPARATOR=\(separator)\n" }
        } else if !shape.psqlInDb {
            let file = directory + "/docker-compose.yml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try text.replacingOccurrences(of: "image: fieldmedic/psql:test", with: "image: \(env.image)").write(toFile: file, atomically: true, encoding: .utf8)
        }
        try dotenv.write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        try env.compose(in: directory, ["up", "-d", "--remove-orphans"])
        if shape.naming == .composeV2 {
            // compose v2 names containers project-service-N; the labels are the same.
            for id in try containers(shape).keys {
                let labels = try env.inspect(id, #"{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}}"#)
                    .split(separator: " ").map(String.init)
                try env.docker(["rename", id, "\(shape.project)-\(labels[0])-\(labels[1])"])
            }
        }
        try env.waitUntil("\(shape) runs with \(shape.workers) worker(s)\(shape.healthcheck ? " and a healthy app" : "")", timeout: 90) {
            let all = try containers(shape)
            let running = try all.keys.filter { try env.inspect($0, "{{.State.Status}}") == "running" }
            let workers = try running.filter { try env.inspect($0, #"{{index .Config.Labels "com.docker.compose.service"}}"#) == "worker_wrapper" }
            let app = try running.filter { try env.inspect($0, #"{{index .Config.Labels "com.docker.compose.service"}}"#) == "app" }
            let healthy = try !shape.healthcheck || app.allSatisfy { try env.inspect($0, "{{.State.Health.Status}}") == "healthy" }
            return workers.count == shape.workers && app.count == 1 && healthy
        }
        let names = try containers(shape).values.sorted()
        let separator = shape.naming == .composeV1 ? "_" : "-"
        #expect(names.contains("\(shape.project)\(separator)worker_wrapper\(separator)\(shape.workers)"), "\(shape): \(names)")
        return directory
    }

    func tearDown(_ shape: Shape, _ directory: String) {
        _ = try? env.compose(in: directory, ["down", "-t", "1", "--remove-orphans"])
        if let left = try? containers(shape), !left.isEmpty { _ = try? env.docker(["rm", "-f"] + Array(left.keys)) }
        _ = try? env.docker(["rmi", "-f", "\(shape.project)-qgis3", "\(shape.project)-qgis4"], check: false)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// id → name of every container of the shape's project.
    func containers(_ shape: Shape) throws -> [String: String] {
        let lines = try env.docker(["ps", "-a", "--no-trunc", "--filter", "label=com.docker.compose.project=\(shape.project)", "--format", "{{.ID}} {{.Names}}"])
            .stdout.split(separator: "\n")
        return Dictionary(uniqueKeysWithValues: lines.map { line in
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        })
    }

    /// name → StartedAt of every container: "nothing healthy touched" compares these.
    func startTimes(_ shape: Shape) throws -> [String: String] {
        var times: [String: String] = [:]
        for (id, name) in try containers(shape) { times[name] = try env.inspect(id, "{{.State.StartedAt}}") }
        return times
    }

    func container(_ shape: Shape, _ service: String, _ number: Int = 1) -> String {
        let separator = shape.naming == .composeV1 ? "_" : "-"
        return "\(shape.project)\(separator)\(service)\(separator)\(number)"
    }

    func agentConfig(_ shape: Shape, _ directory: String) throws -> String {
        let dotenv = try String(contentsOfFile: directory + "/.env", encoding: .utf8)
        let appPort = dotenv.split(separator: "\n").first { $0.hasPrefix("TESTBED_APP_PORT=") }.map { String($0.dropFirst("TESTBED_APP_PORT=".count)) } ?? ""
        return """
            [report]
            interval = "30s"
            [docker]
            socket = "\(env.dockerSocket)"
            [compose]
            project = "\(shape.project)"
            directory = "\(directory)"
            [queue]
            mode = "\(shape.queue.rawValue)"
            \(shape.queue == .dsn ? "dsn = \"\(env.pgDSN)\"" : "")
            [status]
            url = "http://127.0.0.1:\(appPort)/api/v1/status/"
            host = "localhost"
            [actions]
            settle = "2s"
            backoff = "0s"
            """
    }

    /// Commands other than diagnoses the coordinator sent: every fix it asked for.
    func fixCommands(_ h: Harness) throws -> [String] {
        try SQLiteCoordinatorTestReader(path: h.dataDir + "/coordinator.sqlite3").strings("SELECT kind FROM commands WHERE kind != 'diagnose' ORDER BY rowid")
    }

    /// Waits for an issue's ticket; on a timeout the error carries what the ticket said.
    func wait(_ s: TicketEndToEndTests.Setup, _ what: String, issue: Int, _ condition: (FakeGitHub.Issue) -> Bool) throws {
        do {
            try s.h.waitUntil(what, timeout: 60) { s.github.issue(issue).map(condition) ?? false }
        } catch {
            let issueNow = s.github.issue(issue)
            let ticketsNow = (try? tickets.tickets(s.h)) ?? []
            throw HarnessError("\(error): issue #\(issue) \(issueNow?.state ?? "?") \(issueNow?.labels ?? []); "
                + "tickets \(ticketsNow.map { "\($0["id"] ?? "?") \($0["state"] ?? "?")" }); comments:\n"
                + s.github.comments(issue).map(\.body).joined(separator: "\n---\n"))
        }
    }

    @Test(arguments: Self.shapes)
    func everyShapeEveryFault(_ shape: Shape) async throws {
        let directory = try bringUp(shape)
        defer { tearDown(shape, directory) }
        print("shape \(shape): up")
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try tickets.start(github, poll: "1s", webhook: false, agentConfig: try agentConfig(shape, directory))
            defer {
                try? s.h.stopAgent("vps-1")
                try? s.h.stopCoordinator()
            }

            // No fault: a status request, and nothing is touched.
            let before = try startTimes(shape)
            let status = github.createIssue(title: "Status of the server?", body: "Is everything fine with qfieldcloud today?", author: "fieldcrew")
            if shape.canLookEverywhere {
                try wait(s, "\(shape): the status request closes healthy", issue: status) { $0.state == "closed" }
                #expect(github.issue(status)?.labels.contains("fieldmedic:healthy") == true, "\(shape): \(tickets.report(github, status))")
            } else {
                try wait(s, "\(shape): the status request ends", issue: status) { $0.labels.contains("fieldmedic:escalated") }
                let report = tickets.report(github, status)
                #expect(github.issue(status)?.state == "open", "a status request with a probe that could not look is not healthy")
                #expect(report.contains("Not checked") && report.contains("dsn"), "\(shape): \(report)")
            }
            #expect(try fixCommands(s.h).isEmpty, "\(shape): no fix on a healthy host")
            #expect(try startTimes(shape) == before, "\(shape): nothing touched")

            // A killed worker replica: only it is started.
            let killed = container(shape, "worker_wrapper", shape.workers)
            var others = try startTimes(shape)
            others.removeValue(forKey: killed)
            try env.docker(["kill", killed])
            let worker = github.createIssue(title: "Packages are not being generated since yesterday", author: "fieldcrew")
            try wait(s, "\(shape): the worker report closes resolved", issue: worker) { $0.state == "closed" }
            var report = tickets.report(github, worker)
            #expect(github.issue(worker)?.labels.contains("fieldmedic:resolved") == true, "\(shape): \(report)")
            #expect(report.contains("start_service(container=\(killed), service=worker_wrapper)"), "\(shape): \(report)")
            #expect(try env.inspect(killed, "{{.State.Status}}") == "running")
            var after = try startTimes(shape)
            after.removeValue(forKey: killed)
            #expect(after == others, "\(shape): only \(killed) was started")
            #expect(try fixCommands(s.h) == ["start_service"], "\(shape)")

            if shape.healthcheck {
                // A wedged app (healthcheck failing): only the app container is restarted.
                let app = container(shape, "app")
                try env.docker(["exec", app, "touch", "/run/wedged"])
                try env.waitUntil("\(shape): the app is unhealthy", timeout: 30) { try env.inspect(app, "{{.State.Health.Status}}") == "unhealthy" }
                others = try startTimes(shape)
                others.removeValue(forKey: app)
                let wedged = github.createIssue(title: "Die Synchronisation funktioniert nicht", body: "Seit heute morgen kein Sync möglich.", author: "fieldcrew")
                try wait(s, "\(shape): the app report closes resolved", issue: wedged) { $0.state == "closed" }
                report = tickets.report(github, wedged)
                #expect(report.contains("restart_service(container=\(app), service=app)"), "\(shape): \(report)")
                #expect(try env.inspect(app, "{{.State.Health.Status}}") == "healthy")
                after = try startTimes(shape)
                after.removeValue(forKey: app)
                #expect(after == others, "\(shape): only \(app) was restarted")
                #expect(try fixCommands(s.h) == ["start_service", "restart_service"], "\(shape)")
            }

            // The database exits: stateful, so the plan waits for an approver; nothing runs.
            let fixesBefore = try fixCommands(s.h)
            let db = container(shape, "db")
            try env.docker(["kill", db])
            let dbIssue = github.createIssue(title: "The web page shows Bad Gateway", author: "fieldcrew")
            try wait(s, "\(shape): the db fix waits for approval", issue: dbIssue) { $0.labels.contains("fieldmedic:awaiting-approval") }
            report = tickets.report(github, dbIssue)
            #expect(report.contains("start_service(container=\(db), service=db)"), "\(shape): \(report)")
            #expect(try env.inspect(db, "{{.State.Status}}") == "exited", "\(shape): a stateful service is not started without approval")
            #expect(try fixCommands(s.h) == fixesBefore)
            try env.docker(["start", db])

            // Every ticket ended or waits for a person; none is still working.
            let states = try tickets.tickets(s.h).compactMap { $0["state"] as? String }
            #expect(states.allSatisfy { ["resolved", "escalated", "healthy", "awaiting_approval", "closed"].contains($0) }, "\(shape): \(states)")
            print("shape \(shape): \(states.count) tickets, states \(states)")
        }
    }
}
}
