import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-bench health`: enrolled simulated agents post health reports over mutual TLS
/// with keep-alive; prints reports/s and latency percentiles, a table and one `BENCH` line.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Drive POST /v1/health over mutual TLS and report reports/s and latency percentiles.",
        discussion: """
            Closed loop by default: each thread keeps one request in flight, sending for its
            agents in turn. With --rate, reports are offered at that total rate and latency is
            counted from each report's planned send time, so a stall is not hidden.
            Exits 1 if any answer was not 200 with a receipt accepting the report, or if the
            coordinator stored a different number of reports than it acknowledged.
            """)

    @Option(help: "Base URL of the server, e.g. https://127.0.0.1:8443 (the request goes to /v1/health).")
    var url: String

    @Option(help: "PEM file of the CA that signed the server's certificate.")
    var ca: String

    @Option(help: "Directory with the agents' NAME.pem and NAME.key (from `enroll`).")
    var identities: String

    @Option(help: "Simulated agents: each has its own certificate and its own kept-alive connection.")
    var agents: Int = 64

    @Option(help: "Worker threads (requests in flight at most); agents are spread over them.")
    var concurrency: Int = 32

    @Option(help: "Measured seconds, after the warm-up.")
    var duration: Double = 20

    @Option(help: "Seconds of load before measuring (TLS handshakes, caches, SQLite growth).")
    var warmup: Double = 5

    @Option(help: "Offer this many reports/s in total instead of sending as fast as answers come (0 = as fast as possible).")
    var rate: Double = 0

    @Option(help: "Name of the server in the output, e.g. coordinator or nginx.")
    var label: String = "server"

    @Option(name: .customLong("server-pid"), help: "PID of the server (repeatable); its CPU and RSS, children included, are measured over the window.")
    var serverPIDs: [Int32] = []

    @Option(help: "Operator API of the coordinator: when given, checks that every acknowledged report was stored.")
    var operatorURL: String?

    @Option(help: "File holding the operator token (with --operator-url).")
    var operatorTokenFile: String?

    @Option(help: "Seconds before one request counts as failed.")
    var requestTimeout: Double = 10

    func validate() throws {
        guard agents >= 1 else { throw ValidationError("--agents must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard duration > 0, warmup >= 0 else { throw ValidationError("--duration must be positive and --warmup not negative") }
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (as fast as possible) or a positive number of reports/s") }
        guard url.hasPrefix("https://") else { throw ValidationError("--url must start with https:// (the channel is mutual TLS)") }
        guard (operatorURL == nil) == (operatorTokenFile == nil) else {
            throw ValidationError("--operator-url and --operator-token-file go together")
        }
    }

    func run() throws {
        let threads = min(concurrency, agents)
        let loaded = try BenchIdentity.load(directory: identities, count: agents)
        let plannedAgents = try loaded.enumerated().map { index, identity in
            let template = try ReportTemplate(agent: identity.name, index: index)
            try template.selfCheck()
            return SimulatedAgent(identity: identity, template: template)
        }
        for pid in serverPIDs where !ProcessTreeSampler.isAlive(pid) {
            throw BenchError("--server-pid \(pid) is not a running process")
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let port = URLComponents(string: base)?.port ?? 443
        let operatorAPI = try operatorURL.map { try OperatorAPIClient(baseURL: $0, tokenFile: operatorTokenFile!) }
        let storedBefore = try operatorAPI?.reportCounts()

        // Sequences keep rising across runs against the same coordinator, as a real agent's do.
        let sequenceBase = Int64(Date().timeIntervalSince1970) * 1_000_000
        let plan = LoadRun.Plan(
            healthURL: base + "/v1/health", caFile: ca, agents: plannedAgents, threads: threads,
            targetRate: rate > 0 ? rate : nil, requestTimeout: requestTimeout, sequenceBase: sequenceBase)

        let mode = rate > 0 ? "paced at \(Format.number(rate)) reports/s" : "closed loop (as fast as answers come)"
        print("""
            fieldmedic-bench health → \(label) \(plan.healthURL)
              \(agents) agents (own certificate and connection each) on \(threads) threads, \(mode)
              body \(plannedAgents[0].template.sizeInBytes) bytes per report, warm-up \(Format.number(warmup)) s, measured \(Format.number(duration)) s
            """)
        fflush(nil)  // all streams: the script tees this output while the run goes on

        let window = LoadRun.Window(warmup: warmup, duration: duration)
        let running = LoadRun(plan: plan, window: window).start()

        // Resource readings at the window's edges, and RSS peaks in between.
        let sampler = ProcessTreeSampler(rootPIDs: serverPIDs)
        MonotonicTime.sleep(until: window.measureFrom)
        let serverStart = sampler.read()
        let machineStart = MachineCPU.read()
        let ownStart = OwnCPU.seconds()
        let connectionsAtStart = ConnectionCensus.count(port: port)
        var peakResident = serverStart.residentBytes
        // Counted while the workers still run: once the window closes they hang up.
        var connectionsAtEnd = connectionsAtStart
        while MonotonicTime.now() < window.measureUntil {
            connectionsAtEnd = ConnectionCensus.count(port: port)
            MonotonicTime.sleep(until: min(MonotonicTime.now() + 250_000_000, window.measureUntil))
            peakResident = max(peakResident, sampler.read().residentBytes)
        }
        let serverEnd = sampler.read()
        let machineEnd = MachineCPU.read()
        let ownEnd = OwnCPU.seconds()
        let tally = running.wait()

        let latency = LatencySummary(nanoseconds: tally.latenciesInWindow)
        let reportsPerSecond = Double(latency.count) / duration
        let serverCPU = serverPIDs.isEmpty ? nil : (serverEnd.cpuSeconds - serverStart.cpuSeconds) / duration * 100
        let clientCPU = (ownEnd - ownStart) / duration * 100
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let machineBusy: Double? = {
            guard let start = machineStart, let end = machineEnd, end.totalSeconds > start.totalSeconds else { return nil }
            return (end.busySeconds - start.busySeconds) / (end.totalSeconds - start.totalSeconds) * 100
        }()
        // CPU that neither the server nor this client used: other work on the machine, which
        // makes the figures lower than the machine can do. In % of one core, like the others.
        let otherCPU: Double? = machineBusy.flatMap { busy in
            serverCPU.map { max(0, busy * Double(cores) - $0 - clientCPU) }
        }

        var persistence: (stored: Int64, acknowledged: Int64)?
        if let operatorAPI, let storedBefore {
            let storedAfter = try operatorAPI.reportCounts()
            let stored = loaded.reduce(Int64(0)) { sum, identity in
                sum + (storedAfter[identity.name] ?? 0) - (storedBefore[identity.name] ?? 0)
            }
            persistence = (stored, tally.acceptedTotal)
        }

        var lines = [
            "  requests    \(tally.okTotal) answered 200 in all, \(latency.count) inside the window; non-200 \(tally.statusCounts.values.reduce(0, +)), transport errors \(tally.transportErrors), not accepted \(tally.notAccepted)",
            "  throughput  \(Format.fixed(reportsPerSecond, 1)) reports/s",
            "  latency ms  p50 \(Format.fixed(latency.p50Ms, 2))  p90 \(Format.fixed(latency.p90Ms, 2))  p99 \(Format.fixed(latency.p99Ms, 2))  p99.9 \(Format.fixed(latency.p999Ms, 2))  max \(Format.fixed(latency.maxMs, 2))  mean \(Format.fixed(latency.meanMs, 2))",
        ]
        // CPU per report hardly depends on what else runs on the machine: the figure to compare.
        let serverMicrosecondsPerReport = serverCPU.map { reportsPerSecond > 0 ? $0 / 100 / reportsPerSecond * 1e6 : 0 }
        if let serverCPU, let serverMicrosecondsPerReport {
            lines.append("  server      CPU \(Format.fixed(serverCPU, 0)) % of one core (\(cores) cores = \(cores * 100) %) = \(Format.fixed(serverMicrosecondsPerReport, 0)) µs of CPU per report; RSS peak \(Format.fixed(Double(peakResident) / 1_048_576, 1)) MiB over \(serverEnd.processCount) process(es)")
        }
        lines.append("  client      CPU \(Format.fixed(clientCPU, 0)) % of one core (this load generator, same machine)"
                     + (machineBusy.map { "; machine busy \(Format.fixed($0, 0)) %" } ?? ""))
        if let otherCPU {
            lines.append("  other load  \(Format.fixed(otherCPU, 0)) % of one core used by other processes during the window"
                         + (otherCPU > 15 ? "  ← the machine was not quiet: these figures understate it; rerun when it is idle" : ""))
        }
        let keptAlive = connectionsAtStart.established == agents && connectionsAtEnd.established == agents
        lines.append("  connections \(connectionsAtStart.established) open at the window's start, \(connectionsAtEnd.established) near its end, for \(agents) agents"
                     + (keptAlive ? " (one kept-alive connection each)" : "  ← not one per agent: connections were dropped or re-made")
                     + "; TIME_WAIT on the port \(connectionsAtEnd.timeWait)")
        if rate > 0 {
            lines.append("  pacing      \(tally.lateStarts) requests started more than 1 ms after their slot")
        }
        if let persistence {
            lines.append("  stored      \(persistence.stored) new reports counted by the coordinator, \(persistence.acknowledged) acknowledged (operator API)")
        }
        print(lines.joined(separator: "\n"))

        var fields: [(String, String)] = [
            ("label", label), ("mode", rate > 0 ? "paced" : "closed"), ("agents", String(agents)), ("threads", String(threads)),
            ("rate", Format.fixed(rate, 0)), ("duration_s", Format.number(duration)), ("body_bytes", String(plannedAgents[0].template.sizeInBytes)),
            ("ok", String(tally.okTotal)), ("in_window", String(latency.count)), ("accepted", String(tally.acceptedTotal)),
            ("failures", String(tally.failures)),
            ("reports_per_s", Format.fixed(reportsPerSecond, 1)),
            ("p50_ms", Format.fixed(latency.p50Ms, 2)), ("p90_ms", Format.fixed(latency.p90Ms, 2)), ("p99_ms", Format.fixed(latency.p99Ms, 2)),
            ("p999_ms", Format.fixed(latency.p999Ms, 2)), ("max_ms", Format.fixed(latency.maxMs, 2)), ("mean_ms", Format.fixed(latency.meanMs, 2)),
            ("client_cpu_pct", Format.fixed(clientCPU, 0)),
            ("connections", String(connectionsAtEnd.established)),
        ]
        if let serverCPU {
            fields.append(("server_cpu_pct", Format.fixed(serverCPU, 0)))
            fields.append(("server_rss_mib", Format.fixed(Double(peakResident) / 1_048_576, 1)))
            fields.append(("server_cpu_us_per_report", Format.fixed(serverMicrosecondsPerReport ?? 0, 0)))
        }
        if let machineBusy { fields.append(("machine_busy_pct", Format.fixed(machineBusy, 0))) }
        if let otherCPU { fields.append(("other_cpu_pct", Format.fixed(otherCPU, 0))) }
        if let persistence { fields.append(("stored", String(persistence.stored))) }
        print("BENCH " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
        fflush(nil)  // all streams: the script tees this output while the run goes on

        if tally.failures > 0 {
            let statuses = tally.statusCounts.sorted { $0.key < $1.key }.map { "\($0.value)× HTTP \($0.key)" }.joined(separator: ", ")
            throw BenchError("""
                \(tally.failures) request(s) to \(label) failed (\(statuses.isEmpty ? "no HTTP errors" : statuses), \(tally.transportErrors) transport errors, \(tally.notAccepted) not accepted); the figures above are not valid. First problems:
                  \(tally.problems.joined(separator: "\n  "))
                """)
        }
        if latency.count == 0 {
            throw BenchError("no request completed inside the measured window: nothing to report")
        }
        if let persistence, persistence.stored != persistence.acknowledged {
            throw BenchError("the coordinator acknowledged \(persistence.acknowledged) reports but counts \(persistence.stored) new ones stored")
        }
    }
}

/// Number formatting for the table and the BENCH line (C locale, no grouping).
enum Format {
    static func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
    /// 20 → "20", 2.5 → "2.5".
    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
