import ArgumentParser
import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Alert received → message delivered, through the real coordinator and real agents.
///
/// The coordinator has `[listen] ingest`, an Alertmanager token, a `[[notify]]` webhook channel
/// pointing at a receiver inside the benchmark, and `[predict] enabled = false` (no tickets of
/// its own). `--agents` real `fieldmedic-agent` processes are enrolled and running on this
/// machine. The benchmark's alert names are mapped to `service.down` with a `service` label no
/// container has, so each alert's ticket asks its agent for a diagnosis, the agent's probes find
/// no such service down (Docker they cannot see here), nothing explains the alert and the ticket
/// escalates: the escalation is the message. That is the path an unexplained alert takes in
/// production, minus GitHub.
///
/// Latency: `--latency` alerts, one at a time, each a new fault on the next host; timed from
/// just before the POST to the receiver having the escalation, and split at the event's `at`
/// (when the escalation was stored). Burst: `--alerts` alerts over the hosts × `--names` faults
/// (as `ingest-burst` makes them), then counted at the receiver by dedupe key.
struct AlertNotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert-notify",
        abstract: "Alert POSTed → webhook message delivered (p50, p99), and N alerts in a burst → tickets and messages, through a real coordinator and real agents.")

    @Option(help: "The fieldmedic-coordinator binary.") var coordinator: String
    @Option(help: "The fieldmedic-agent binary.") var agent: String
    @Option(help: "Real agents enrolled and running (hosts the alerts are about).") var agents: Int = 10
    @Option(help: "Alerts sent one at a time for the latency figures.") var latency: Int = 100
    @Option(help: "Alerts in the burst.") var alerts: Int = 1000
    @Option(help: "Distinct alert names (faults) per host in the burst.") var names: Int = 20
    @Option(help: "Alerts per webhook request in the burst.") var groupSize: Int = 10
    @Option(help: "Parallel connections in the burst.") var concurrency: Int = 4
    @Option(help: "The channel's group_window during the burst.") var window: String = "2s"
    @Option(help: "Seconds to wait for the burst's last message.") var timeout: Double = 900
    @Option(help: "Work directory (created; removed afterwards unless --keep).") var workDir: String = NSTemporaryDirectory() + "fieldmedic-bench-alert-notify"
    @Flag(help: "Keep the work directory.") var keep = false

    func validate() throws {
        guard agents >= 1, latency >= 1, alerts >= 1, names >= 1, groupSize >= 1, concurrency >= 1 else {
            throw ValidationError("--agents, --latency, --alerts, --names, --group-size and --concurrency must be at least 1")
        }
        guard agents <= 999 else { throw ValidationError("--agents: at most 999") }
        guard DurationText.parse(window) != nil else { throw ValidationError("--window must be a duration such as 2s") }
    }

    static let prefix = "bench"
    static func host(_ index: Int) -> String { String(format: "%@-%03d", prefix, index + 1) }

    func run() throws {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { if !keep { try? FileManager.default.removeItem(atPath: workDir) } }
        let data = workDir + "/coordinator"
        let config = data + "/coordinator.toml"
        let agentsPort = try freePort(), operatorPort = try freePort(), ingestPort = try freePort()
        try runToCompletion(coordinator, ["init", "--data-dir", data, "--agents-listen", "127.0.0.1:\(agentsPort)", "--operator-listen", "127.0.0.1:\(operatorPort)",
                               "--server-name", "127.0.0.1"])
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try SecretFile.write("bench-webhook-secret\n", to: workDir + "/webhook.secret")
        let token = "bench-am-\(UUID().uuidString)"
        try SecretFile.write(token + "\n", to: workDir + "/alertmanager.token")
        let base = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "# ingest = \"127.0.0.1:8092\"", with: "ingest = \"127.0.0.1:\(ingestPort)\"")
        let mapped = (["BenchLatency"] + (0..<names).map { "BenchAlert\($0)" }).map { "\($0) = \"service.down\"" }.joined(separator: "\n")
        func writeConfig(window: String) throws {
            try (base + """

                [predict]
                enabled = false

                [ingest]
                alertmanager_token_file = "\(workDir)/alertmanager.token"

                [ingest.alertmanager.findings]
                \(mapped)

                [[notify]]
                name = "bench"
                kind = "webhook"
                url = "http://127.0.0.1:\(receiver.port)/hook"
                secret_file = "\(workDir)/webhook.secret"
                events = ["escalated"]
                group_window = "\(window)"

                """).write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(window: "0s")
        try runToCompletion(coordinator, ["check-config", "--config", config])
        let server = CoordinatorProcess(binary: coordinator, config: config, log: workDir + "/coordinator.log",
                                        operatorURL: "http://127.0.0.1:\(operatorPort)", tokenFile: data + "/operator.token")
        defer { server.stop() }
        try server.start()
        let fleet = try AgentFleet(binary: agent, directory: workDir + "/agents", coordinatorURL: "https://127.0.0.1:\(agentsPort)",
                                   client: try OperatorAPIClient(baseURL: "http://127.0.0.1:\(operatorPort)", tokenFile: data + "/operator.token"))
        defer { fleet.stop() }
        try fleet.start(names: (0..<agents).map(Self.host))
        let http = CurlHTTPClient()
        let ingestURL = "http://127.0.0.1:\(ingestPort)"
        func post(_ body: Data) throws {
            let response = try http.perform(HTTPRequest(
                method: "POST", url: ingestURL + "/v1/ingest/alertmanager",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0")],
                body: body, timeout: 60))
            guard response.status == 200 else { throw BenchError("POST /v1/ingest/alertmanager answered \(response.status): \(response.bodyText.prefix(200))") }
        }
        print("BENCH alert-notify: coordinator \(coordinator), \(agents) real agents (\(agent)), webhook channel to 127.0.0.1:\(receiver.port)")

        // Reference: HTTP alone, GET /healthz on the ingest listener, one at a time.
        var reference: [UInt64] = []
        for _ in 0..<max(latency, 20) {
            let t0 = MonotonicTime.now()
            let response = try http.perform(HTTPRequest(url: ingestURL + "/healthz", timeout: 30))
            guard response.status == 200 else { throw BenchError("GET /healthz answered \(response.status)") }
            reference.append(MonotonicTime.now() - t0)
        }
        let referenceSummary = LatencySummary(nanoseconds: reference)

        // Latency: one alert at a time, each a fault of its own on the next host.
        var total: [UInt64] = [], stored: [UInt64] = [], toEscalation: [UInt64] = [], toDelivery: [UInt64] = []
        for index in 0..<latency {
            let host = Self.host(index % agents)
            let marker = "latency-\(index)-\(UUID().uuidString.prefix(8))"
            let body = try Self.alertBody(name: "BenchLatency", host: host, labels: ["service": "svc-\(marker)"], summary: "probe \(marker)", fingerprint: String(format: "%016x", 0x1a7e_0000 + index))
            let sent = Date()
            let t0 = MonotonicTime.now()
            try post(body)
            stored.append(MonotonicTime.now() - t0)
            let deadline = Date().addingTimeInterval(120)
            var found: WebhookReceiver.Arrival?
            while found == nil && Date() < deadline {
                found = receiver.received.first { $0.title.contains(marker) }
                if found == nil { usleep(2_000) }
            }
            guard let found else { throw BenchError("the escalation of \(marker) on \(host) did not arrive within 120 s; see \(workDir)/coordinator.log (use --keep)") }
            total.append(UInt64(max(0, found.arrival.timeIntervalSince(sent)) * 1e9))
            if let at = found.at {
                toEscalation.append(UInt64(max(0, at.timeIntervalSince(sent)) * 1e9))
                toDelivery.append(UInt64(max(0, found.arrival.timeIntervalSince(at)) * 1e9))
            }
        }
        let summary = LatencySummary(nanoseconds: total)
        let escalation = LatencySummary(nanoseconds: toEscalation), delivery = LatencySummary(nanoseconds: toDelivery)
        let answer = LatencySummary(nanoseconds: stored)
        print(String(format: "BENCH alert-notify latency: alert POSTed → escalation received at the webhook, n=%d: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
                     summary.count, summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.maxMs))
        print(String(format: "BENCH alert-notify latency: of which POST → escalation stored (ingest, ticket, the agent's diagnosis) p50 %.1f ms, p99 %.1f ms; escalation stored → webhook received (outbox) p50 %.1f ms, p99 %.1f ms",
                     escalation.p50Ms, escalation.p99Ms, delivery.p50Ms, delivery.p99Ms))
        print(String(format: "BENCH alert-notify latency: the POST itself (stored, answered 200) p50 %.1f ms, p99 %.1f ms; reference GET /healthz p50 %.2f ms, p99 %.2f ms (alert → message p50 is %.0f× the bare round trip)",
                     answer.p50Ms, answer.p99Ms, referenceSummary.p50Ms, referenceSummary.p99Ms, summary.p50Ms / max(referenceSummary.p50Ms, 0.001)))

        // Burst.
        server.stop()
        try writeConfig(window: window)
        try server.start()
        receiver.reset()
        var burst = try IngestBurstCommand.parse([
            "--url", ingestURL, "--token-file", workDir + "/alertmanager.token", "--operator-url", "http://127.0.0.1:\(operatorPort)",
            "--operator-token-file", data + "/operator.token", "--alerts", String(alerts), "--hosts", String(agents), "--names", String(names),
            "--group-size", String(groupSize), "--concurrency", String(concurrency), "--name-prefix", Self.prefix,
        ])
        try burst.validate()
        let bodies = try burst.makeBodies { _, name in ["service": "svc-burst-\(name)"] }
        let started = Date()
        let run = try burst.burst(count: bodies.count) { http, index in
            try http.perform(HTTPRequest(
                method: "POST", url: ingestURL + "/v1/ingest/alertmanager",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0")],
                body: bodies[index], timeout: 60))
        }
        if let failure = run.failures.first { throw BenchError("\(run.failures.count) burst requests failed, e.g. \(failure)") }
        let answered = Date().timeIntervalSince(started)
        let tickets = try OperatorTickets(baseURL: "http://127.0.0.1:\(operatorPort)", tokenFile: data + "/operator.token")
        let deadline = Date().addingTimeInterval(timeout)
        var last: (open: Int, escalated: Int, received: Int) = (0, 0, 0)
        var storedAll: TimeInterval?, escalatedAll: TimeInterval?
        while Date() < deadline {
            let pending = try burst.counts(try SecretFile.readString(data + "/operator.token", what: "operator token").trimmingCharacters(in: .whitespacesAndNewlines))["pending"] ?? 0
            let burstTickets = try tickets.list().filter { $0.source == "alert" && $0.title.hasPrefix("BenchAlert") }
            let escalated = burstTickets.filter { $0.state == "escalated" }.count
            let received = Set(receiver.received.filter { $0.title.contains("BenchAlert") }.map(\.dedupeKey)).count
            last = (burstTickets.count, escalated, received)
            if pending == 0 && storedAll == nil { storedAll = Date().timeIntervalSince(started) }
            if pending == 0 && escalated == burstTickets.count && escalatedAll == nil && !burstTickets.isEmpty { escalatedAll = Date().timeIntervalSince(started) }
            if pending == 0 && !burstTickets.isEmpty && escalated == burstTickets.count && received >= escalated { break }
            usleep(100_000)
        }
        let done = Date().timeIntervalSince(started)
        let arrivals = receiver.received.filter { $0.title.contains("BenchAlert") }
        let distinct = Set(arrivals.map(\.dedupeKey)).count
        let expected = min(agents, alerts) * min(names, max(1, alerts / max(agents, 1)))
        print(String(format: "BENCH alert-notify burst: %d alerts in %d requests (%d per request, %d connections) over %d hosts × %d faults, all answered 200 in %.2f s",
                     alerts, bodies.count, groupSize, concurrency, agents, names, answered))
        print("BENCH alert-notify burst: tickets \(last.open) (expected \(expected): one per host × fault), escalated \(last.escalated); "
              + "escalations delivered \(distinct) (lost \(last.open - distinct), repeated \(arrivals.count - distinct)) in \(receiver.messageCount) webhook messages (group_window \(window))")
        print(String(format: "BENCH alert-notify burst: every alert a ticket change after %@; every ticket escalated after %@; last message %.1f s after the first POST",
                     storedAll.map { String(format: "%.1f s", $0) } ?? "(not within the deadline)",
                     escalatedAll.map { String(format: "%.1f s", $0) } ?? "(not within the deadline)", done))
        if last.open == 0 || last.escalated < last.open || distinct < last.open {
            throw BenchError("not every burst ticket escalated and reached the webhook within \(Int(timeout)) s (tickets \(last.open), escalated \(last.escalated), delivered \(distinct)); see \(workDir)/coordinator.log (use --keep)")
        }
    }

    /// One Alertmanager webhook body (version "4") with one firing alert.
    static func alertBody(name: String, host: String, labels extra: [String: String], summary: String, fingerprint: String) throws -> Data {
        let labels = ["alertname": name, "instance": host + ":9100", "severity": "critical"].merging(extra) { _, new in new }
        let alert: [String: Any] = [
            "status": "firing", "labels": labels, "annotations": ["summary": summary],
            "startsAt": ISO8601DateFormatter().string(from: Date()), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org/graph", "fingerprint": fingerprint,
        ]
        return try JSONSerialization.data(withJSONObject: [
            "receiver": "fieldmedic", "status": "firing", "alerts": [alert], "groupLabels": ["alertname": name],
            "commonLabels": labels, "commonAnnotations": ["summary": summary], "externalURL": "http://127.0.0.1:9093", "version": "4",
            "groupKey": "{}:{alertname=\"\(name)\"}", "truncatedAlerts": 0,
        ])
    }

}

/// `GET /operator/tickets?all=1`, the fields the benchmark counts.
struct OperatorTickets {
    struct Summary: Decodable { var id: Int64; var source: String; var state: String; var title: String }
    let baseURL: String
    let token: String

    init(baseURL: String, tokenFile: String) throws {
        self.baseURL = baseURL
        token = try SecretFile.readString(tokenFile, what: "operator token").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func list() throws -> [Summary] {
        let response = try CurlHTTPClient().perform(HTTPRequest(url: baseURL + "/operator/tickets?all=1", headers: [("Authorization", "Bearer \(token)")], timeout: 30))
        guard response.status == 200 else { throw BenchError("GET /operator/tickets answered \(response.status): \(response.bodyText.prefix(200))") }
        return try JSONDecoder().decode([Summary].self, from: response.body)
    }
}

/// Real `fieldmedic-agent` processes on this machine, enrolled through the agent listener with
/// join tokens from the operator API, each with its own state directory; stopped with SIGTERM.
final class AgentFleet {
    let binary: String
    let directory: String
    let coordinatorURL: String
    let client: OperatorAPIClient
    private var processes: [Process] = []

    init(binary: String, directory: String, coordinatorURL: String, client: OperatorAPIClient) throws {
        self.binary = binary
        self.directory = directory
        self.coordinatorURL = coordinatorURL
        self.client = client
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func start(names: [String]) throws {
        for name in names {
            let config = directory + "/\(name)/agent.toml"
            let token = try client.createJoinToken(agent: name)
            let enroll = Process()
            enroll.executableURL = URL(fileURLWithPath: binary)
            enroll.arguments = ["enroll", "--config", config, "--state-dir", directory + "/\(name)/state", "--coordinator", coordinatorURL, "--name", name, "--token", token]
            enroll.standardOutput = FileHandle.nullDevice
            try enroll.run()
            enroll.waitUntilExit()
            guard enroll.terminationStatus == 0 else { throw BenchError("fieldmedic-agent enroll \(name) exited with \(enroll.terminationStatus)") }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run", "--config", config]
            let log = directory + "/\(name)/agent.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append(process)
        }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let counts = try client.reportCounts()
            if names.allSatisfy({ (counts[$0] ?? 0) >= 1 }) { return }
            if let dead = processes.first(where: { !$0.isRunning }) {
                throw BenchError("an agent exited at start (status \(dead.terminationStatus)); see \(directory)/*/agent.log")
            }
            usleep(100_000)
        }
        throw BenchError("not every agent reported within 120 s; see \(directory)/*/agent.log")
    }

    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
        processes = []
    }
}
