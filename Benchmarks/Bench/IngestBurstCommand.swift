import ArgumentParser
import Foundation
import Shared

/// A burst of Alertmanager alerts at the coordinator's ingest listener, as a fleet-wide outage
/// would send them: every alert in Alertmanager's webhook shape (version "4"), grouped per
/// host and alert name, posted as fast as `--concurrency` connections go. Then waits until the
/// coordinator has turned every stored alert into a ticket change, and says how many alerts
/// were stored (none may be lost), how many tickets they made, and how long each part took.
struct IngestBurstCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-burst",
        abstract: "Post N Alertmanager alerts in a burst to the ingest listener; count stored alerts and tickets.")

    @Option(help: "The ingest listener, e.g. http://127.0.0.1:8092.")
    var url: String
    @Option(help: "File holding the Alertmanager bearer token (ingest.alertmanager_token_file).")
    var tokenFile: String
    @Option(help: "The coordinator's operator API, e.g. http://127.0.0.1:8080.")
    var operatorURL: String
    @Option(help: "File holding the operator token (DATA_DIR/operator.token).")
    var operatorTokenFile: String
    @Option(help: "How many alerts.")
    var alerts: Int = 1000
    @Option(help: "Enrolled host names are PREFIX-001 … (fieldmedic-bench enroll --name-prefix).")
    var namePrefix: String = "bench"
    @Option(help: "How many enrolled hosts the alerts are spread over.")
    var hosts: Int = 10
    @Option(help: "Distinct alert names per host (alerts with one name on one host are one fault).")
    var names: Int = 20
    @Option(help: "Alerts per webhook request (Alertmanager's group size).")
    var groupSize: Int = 10
    @Option(help: "Parallel connections.")
    var concurrency: Int = 4
    @Option(help: "Seconds to wait for the coordinator to handle every stored alert.")
    var timeout: Double = 300

    func validate() throws {
        guard alerts >= 1, hosts >= 1, names >= 1, groupSize >= 1, concurrency >= 1 else {
            throw ValidationError("--alerts, --hosts, --names, --group-size and --concurrency must be at least 1")
        }
    }

    struct Counts: Decodable { var counts: [String: Int] }

    func run() throws {
        let token = try SecretFile.readString(tokenFile, what: "Alertmanager token").trimmingCharacters(in: .whitespacesAndNewlines)
        let operatorToken = try SecretFile.readString(operatorTokenFile, what: "operator token").trimmingCharacters(in: .whitespacesAndNewlines)
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let before = try counts(operatorToken)
        let bodies = try makeBodies()
        // Reference: the same number of requests, same connections, to the listener's GET
        // /healthz: what HTTP alone costs here, against which storing the alerts is measured.
        let reference = try burst(count: bodies.count) { http, _ in
            try http.perform(HTTPRequest(url: base + "/healthz", timeout: 60))
        }
        if let failure = reference.failures.first { throw BenchError("the reference GET /healthz failed: \(failure)") }

        let started = MonotonicTime.now()
        let run = try burst(count: bodies.count) { http, index in
            try http.perform(HTTPRequest(
                method: "POST", url: base + "/v1/ingest/alertmanager",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0")],
                body: bodies[index], timeout: 60))
        }
        let posted = Double(MonotonicTime.now() - started) / 1e9
        let deadline = Date().addingTimeInterval(timeout)
        var after = try counts(operatorToken)
        while (after["pending"] ?? 0) > 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            after = try counts(operatorToken)
        }
        let handled = Double(MonotonicTime.now() - started) / 1e9
        func delta(_ key: String) -> Int { (after[key] ?? 0) - (before[key] ?? 0) }
        let stored = IngestStateNames.all.map(delta).reduce(0, +)
        let summary = run.latencies
        let refused = run.failures
        print("BENCH ingest: \(alerts) alerts in \(bodies.count) requests (\(groupSize) per request, \(concurrency) connections) over \(hosts) hosts × \(names) alert names")
        print(String(format: "BENCH ingest: all stored and answered in %.2f s (%.0f alerts/s); request p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                     posted, Double(alerts) / posted, summary.p50Ms, summary.p99Ms, summary.maxMs))
        print(String(format: "BENCH ingest: reference GET /healthz × %d on the same connections: %.2f s, p50 %.1f ms, p99 %.1f ms; storing costs %.1f× the bare round trip (p50)",
                     bodies.count, reference.seconds, reference.latencies.p50Ms, reference.latencies.p99Ms, summary.p50Ms / max(reference.latencies.p50Ms, 0.001)))
        print(String(format: "BENCH ingest: every stored alert handled %.2f s after the first request (%.0f alerts/s end to end)", handled, Double(alerts) / handled))
        print("BENCH ingest: stored \(stored) of \(alerts) (lost \(alerts - stored)); applied \(delta("applied")), unknown host \(delta("unknown_host")), "
              + "silenced \(delta("silenced")), failed \(delta("failed")), still pending \(after["pending"] ?? 0); tickets \(delta("tickets")) "
              + "(expected \(min(hosts, alerts) * min(names, max(1, alerts / max(hosts, 1)))): one per host × fault)")
        if !refused.isEmpty { throw BenchError("\(refused.count) requests failed, e.g. \(refused[0])") }
        if stored != alerts || (after["pending"] ?? 0) > 0 { throw BenchError("alerts lost or not handled: stored \(stored) of \(alerts), \(after["pending"] ?? 0) pending") }
    }

    struct Burst {
        var seconds: Double
        var latencies: LatencySummary
        var failures: [String]
    }

    /// `count` requests over `concurrency` connections as fast as they go; a request that is
    /// not answered 200 is a failure.
    func burst(count: Int, _ send: @escaping @Sendable (CurlHTTPClient, Int) throws -> HTTPResponse) throws -> Burst {
        let latencies = LockedValue([UInt64]())
        let failures = LockedValue([String]())
        let next = LockedValue(0)
        let started = MonotonicTime.now()
        DispatchQueue.concurrentPerform(iterations: concurrency) { _ in
            let http = CurlHTTPClient()
            while true {
                let index: Int = next.withLock { n in defer { n += 1 }; return n }
                guard index < count else { return }
                let t0 = MonotonicTime.now()
                do {
                    let response = try send(http, index)
                    if response.status != 200 { failures.withLock { $0.append("request \(index): \(response.status) \(response.bodyText.prefix(200))") } }
                } catch {
                    failures.withLock { $0.append("request \(index): \(error)") }
                }
                let elapsed = MonotonicTime.now() - t0
                latencies.withLock { $0.append(elapsed) }
            }
        }
        return Burst(seconds: Double(MonotonicTime.now() - started) / 1e9, latencies: LatencySummary(nanoseconds: latencies.withLock { $0 }),
                     failures: failures.withLock { $0 })
    }

    /// Alertmanager-shaped bodies: alert i is on host i % hosts with name i / hosts % names and
    /// its own fingerprint; alerts are grouped per (host, name) as `group_by: [alertname, instance]` would.
    /// `labels` adds labels to alert i on `host` with name index `name` (e.g. a `service`).
    func makeBodies(labels extra: (_ host: String, _ name: Int) -> [String: String] = { _, _ in [:] }) throws -> [Data] {
        var groups: [String: [[String: Any]]] = [:]
        var order: [String] = []
        let now = ISO8601DateFormatter().string(from: Date())
        for i in 0..<alerts {
            let host = String(format: "%@-%03d", namePrefix, i % hosts + 1)
            let name = "BenchAlert\((i / hosts) % names)"
            let labels = ["alertname": name, "instance": host + ":9100", "replica": String(i), "severity": "warning"]
                .merging(extra(host, (i / hosts) % names)) { _, new in new }
            let alert: [String: Any] = [
                "status": "firing", "labels": labels, "annotations": ["summary": "\(name) on \(host) (\(i))"],
                "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example.org/graph",
                "fingerprint": String(format: "%016x", 0xbe00_0000_0000 + i),
            ]
            let key = host + "|" + name
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(alert)
        }
        var bodies: [Data] = []
        for key in order {
            let all = groups[key]!
            for start in stride(from: 0, to: all.count, by: groupSize) {
                let chunk = Array(all[start..<min(start + groupSize, all.count)])
                let common = chunk[0]["labels"] as! [String: String]
                bodies.append(try JSONSerialization.data(withJSONObject: [
                    "receiver": "fieldmedic", "status": "firing", "alerts": chunk,
                    "groupLabels": ["alertname": common["alertname"]!, "instance": common["instance"]!],
                    "commonLabels": ["alertname": common["alertname"]!, "instance": common["instance"]!],
                    "commonAnnotations": [String: String](), "externalURL": "http://127.0.0.1:9093", "version": "4",
                    "groupKey": "{}:{alertname=\"\(common["alertname"]!)\", instance=\"\(common["instance"]!)\"}", "truncatedAlerts": 0,
                ]))
            }
        }
        return bodies
    }

    func counts(_ operatorToken: String) throws -> [String: Int] {
        let base = operatorURL.hasSuffix("/") ? String(operatorURL.dropLast()) : operatorURL
        let response = try CurlHTTPClient().perform(HTTPRequest(
            url: base + "/operator/ingest?limit=0", headers: [("Authorization", "Bearer \(operatorToken)")], timeout: 30))
        guard response.status == 200 else { throw BenchError("GET /operator/ingest answered \(response.status): \(response.bodyText.prefix(200))") }
        return try JSONDecoder().decode(Counts.self, from: response.body).counts
    }
}

/// The coordinator's ingest states (its `IngestState`, which Bench cannot import).
enum IngestStateNames {
    static let all = ["pending", "applied", "unknown_host", "silenced", "ignored", "failed"]
}
