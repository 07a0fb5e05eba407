import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-bench proxy-log`: what a whole probe cycle costs when nginx's container log
/// holds a gigabyte of older lines, with the proxy probe and without it, beside the cycle
/// without the issue-12 probes that agent.toml can switch off (config lint, compose check,
/// storage: no `compose.directory`; proxy: `service = ""`). The agent runs
/// `diagnose --local --cycles N` (the same probes cycle after cycle, so the proxy probe reads
/// on from its last position) while this command sends requests through nginx, so that
/// every cycle has new lines to read; dockerd's CPU is measured beside it, because the
/// engine, not the agent, walks the log file to find `since`.
struct ProxyLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-log",
        abstract: "Probe-cycle CPU with a large nginx log, with and without the proxy probe.",
        discussion: "Usually driven by scripts/bench-proxy.sh, which starts the private engine and the testbed.")

    @Option(help: "The fieldmedic-agent binary.") var agentBin: String
    @Option(help: "The Docker engine's socket.") var dockerSocket: String
    @Option(help: "PID of that dockerd (its CPU is measured).") var dockerdPid: Int32
    @Option(help: "The compose project.") var project = "qfieldcloud"
    @Option(help: "The compose install directory (for the agent's config).") var composeDirectory: String
    @Option(help: "The status URL through nginx, e.g. http://127.0.0.1:18080/api/v1/status/.") var statusURL: String
    @Option(help: "QFIELDCLOUD_HOST.") var host = "localhost"
    @Option(help: "A DSN for the queue probe (empty: queue probe off).") var queueDSN = ""
    @Option(help: "Bytes of older access-log lines in nginx's json-file log before measuring.") var logBytes: Int = 1_000_000_000
    @Option(help: "Probe cycles per run (the first, which starts one window back, is reported apart).") var cycles = 21
    @Option(help: "Seconds between cycles.") var every = 1.0
    @Option(help: "Requests per second sent through nginx while the agent runs.") var requestRate = 20.0
    @Option(help: "Working directory for configs and state.") var workDir: String

    func run() throws {
        let engine = Engine(socket: dockerSocket)
        let nginx = try engine.container(project: project, service: "nginx")
        let logPath = try engine.logPath(nginx)
        try fillLog(engine: engine, container: nginx, path: logPath)
        // json-file rotates at max-size (QFieldCloud: 1000m, decimal, × 10 files): count them all.
        let size = ([logPath] + (1...10).map { "\(logPath).\($0)" }).reduce(0) { total, path in
            total + ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0)
        }
        print(String(format: "nginx's json-file log: %.2f GB in %@*", Double(size) / 1e9, logPath))

        var results: [(label: String, run: Run)] = []
        for variant in Variant.allCases {
            let config = try writeConfig(variant)
            results.append((variant.rawValue, try measure(config: config)))
        }
        print("")
        print("| run | first cycle CPU | later cycles: median CPU | max | dockerd CPU per cycle |")
        print("|---|---:|---:|---:|---:|")
        for (label, run) in results {
            print(String(format: "| %@ | %.1f ms | %.1f ms | %.1f ms | %.1f ms |", label, run.first, run.median, run.max, run.dockerdPerCycle))
        }
        // What one read costs the engine, the way the probe asks (since + tail) and with since alone.
        let recent = Date().addingTimeInterval(-5).timeIntervalSince1970
        let since = String(format: "%.9f", recent)
        let dockerd = ProcessTreeSampler(rootPIDs: [dockerdPid])
        print("")
        print("| one read of the last 5 s of nginx's log | dockerd CPU | wall |")
        print("|---|---:|---:|")
        var engineCost: [String: Double] = [:]
        for (label, query) in [("since + tail=2000 (the probe)", "since=\(since)&tail=2000"), ("since alone", "since=\(since)")] {
            let cpu0 = dockerd.read().cpuSeconds
            let wall0 = Date()
            let reads = 3
            for _ in 0..<reads { _ = try engine.raw("/containers/\(nginx)/logs?stdout=1&timestamps=1&\(query)") }
            let cpu = (dockerd.read().cpuSeconds - cpu0) * 1000 / Double(reads)
            let wall = Date().timeIntervalSince(wall0) * 1000 / Double(reads)
            engineCost[label] = cpu
            print(String(format: "| %@ | %.0f ms | %.0f ms |", label, cpu, wall))
        }
        let baseline = results[0].run, without = results[1].run, with = results[2].run
        print(String(format: "BENCH proxy-log log_gb=%.2f cycles=%d rate=%.0f median_without_new_probes_ms=%.1f median_without_ms=%.1f median_with_ms=%.1f max_with_ms=%.1f dockerd_without_ms=%.1f dockerd_with_ms=%.1f dockerd_read_tail_ms=%.0f dockerd_read_since_only_ms=%.0f",
            Double(size) / 1e9, cycles, requestRate, baseline.median, without.median, with.median, with.max, without.dockerdPerCycle, with.dockerdPerCycle,
            engineCost["since + tail=2000 (the probe)"] ?? 0, engineCost["since alone"] ?? 0))
    }

    struct Run {
        var first: Double
        var median: Double
        var max: Double
        var dockerdPerCycle: Double
    }

    /// Appends json-file entries (a day old, one request a line) until the log holds `logBytes`.
    func fillLog(engine: Engine, container: String, path: String) throws {
        let existing = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard existing < logBytes else { return }
        try engine.post("/containers/\(container)/stop?t=2")
        defer { try? engine.post("/containers/\(container)/start") }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot open \(path) for writing (run as root)") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        let paths = ["/api/v1/files/p1/DCIM/a.jpg", "/api/v1/packages/p1/latest/", "/api/v1/deltas/p1/", "/api/v1/status/", "/api/v1/projects/"]
        let statuses = [200, 200, 200, 200, 201, 304, 404, 413, 502, 504]
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var written = existing
        var second = Date().addingTimeInterval(-2 * 86_400).timeIntervalSince1970.rounded(.down)
        var index = 0
        while written < logBytes {
            var block = ""
            block.reserveCapacity(1 << 20)
            let stamp = formatter.string(from: Date(timeIntervalSince1970: second)).dropLast()
            for n in 0..<4000 {
                index += 1
                let line = "172.18.0.\(index % 250) - - [01/Jan/2026:00:00:00 +0000] \\\"GET \(paths[index % paths.count]) HTTP/1.1\\\" \(statuses[index % statuses.count]) \(index % 9000) \\\"-\\\" \\\"QField/3.4 (Android 14)\\\""
                block += "{\"log\":\"\(line)\\n\",\"stream\":\"stdout\",\"time\":\"\(stamp).\(String(format: "%09d", n * 250_000))Z\"}\n"
            }
            handle.write(Data(block.utf8))
            written += block.utf8.count
            second += 1
        }
    }

    enum Variant: String, CaseIterable {
        case withoutNewProbes = "without the issue-12 probes (no compose.directory, no proxy)"
        case withoutProxy = "without the proxy probe"
        case withProxy = "with the proxy probe"

        var name: String {
            switch self {
            case .withoutNewProbes: "baseline"
            case .withoutProxy: "without"
            case .withProxy: "with"
            }
        }
    }

    func writeConfig(_ variant: Variant) throws -> String {
        let proxy = variant == .withProxy
        let state = workDir + "/state-" + variant.name
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let queue = queueDSN.isEmpty ? "mode = \"off\"" : "mode = \"dsn\"\ndsn = \"\(queueDSN)\""
        let text = """
            name = "bench"
            [coordinator]
            url = "https://127.0.0.1:1"
            [state]
            dir = "\(state)"
            [docker]
            socket = "\(dockerSocket)"
            [compose]
            project = "\(project)"
            \(variant == .withoutNewProbes ? "" : "directory = \"\(composeDirectory)\"")
            [queue]
            \(queue)
            [status]
            url = "\(statusURL)"
            host = "\(host)"
            [proxy]
            service = "\(proxy ? "nginx" : "")"

            """
        let path = workDir + "/agent-" + variant.name + ".toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func measure(config: String) throws -> Run {
        let stop = LockedValue(false)
        let sender = Thread { [statusURL, host, requestRate] in
            let client = CurlHTTPClient()
            let paths = ["/api/v1/files/p1/", "/api/v1/packages/p1/latest/", "/api/v1/deltas/p1/", "/api/v1/status/"]
            var n = 0
            let base = statusURL.replacingOccurrences(of: "/api/v1/status/", with: "")
            while !stop.value {
                n += 1
                _ = try? client.perform(HTTPRequest(url: base + paths[n % paths.count], headers: [("Host", host)], timeout: 5, connectTimeout: 2))
                usleep(UInt32(1e6 / requestRate))
            }
        }
        sender.start()
        defer { stop.value = true }
        let dockerd = ProcessTreeSampler(rootPIDs: [dockerdPid])
        let before = dockerd.read().cpuSeconds
        let process = Process()
        process.executableURL = URL(fileURLWithPath: agentBin)
        process.arguments = ["diagnose", "--local", "--config", config, "--cycles", String(cycles), "--every", String(every)]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let dockerdSeconds = dockerd.read().cpuSeconds - before
        guard process.terminationStatus == 0 else { throw BenchError("the agent failed (\(process.terminationStatus)): \(output)") }
        // "cycle 3: 12.34 ms CPU (…"
        let perCycle = output.split(separator: "\n").compactMap { line -> Double? in
            guard line.hasPrefix("cycle "), let colon = line.firstIndex(of: ":") else { return nil }
            return Double(line[line.index(after: colon)...].split(separator: " ").first ?? "")
        }
        guard perCycle.count == cycles else { throw BenchError("expected \(cycles) cycle lines, got: \(output)") }
        if let sample = output.split(separator: "\n").last(where: { $0.hasPrefix("cycle ") }) { print("  last: " + sample) }
        let later = perCycle.dropFirst().sorted()
        return Run(first: perCycle[0], median: later[later.count / 2], max: later.last ?? 0,
            dockerdPerCycle: dockerdSeconds * 1000 / Double(cycles))
    }

    /// The few Engine API calls the benchmark needs.
    struct Engine {
        var socket: String

        func get(_ path: String) throws -> Any {
            let response = try CurlHTTPClient(unixSocketPath: socket).perform(HTTPRequest(url: "http://localhost/v1.41" + path, timeout: 30, connectTimeout: 5))
            guard response.status == 200 else { throw BenchError("GET \(path): \(response.status) \(response.bodyText)") }
            return try JSONSerialization.jsonObject(with: response.body)
        }

        func raw(_ path: String) throws -> Data {
            let response = try CurlHTTPClient(unixSocketPath: socket, maxResponseBytes: 1 << 30).perform(HTTPRequest(url: "http://localhost/v1.41" + path, timeout: 300, connectTimeout: 5))
            guard response.status == 200 else { throw BenchError("GET \(path): \(response.status)") }
            return response.body
        }

        func post(_ path: String) throws {
            let response = try CurlHTTPClient(unixSocketPath: socket).perform(HTTPRequest(method: "POST", url: "http://localhost/v1.41" + path, body: Data(), timeout: 60, connectTimeout: 5))
            guard [204, 304].contains(response.status) else { throw BenchError("POST \(path): \(response.status) \(response.bodyText)") }
        }

        func container(project: String, service: String) throws -> String {
            let filter = "{\"label\":[\"com.docker.compose.project=\(project)\",\"com.docker.compose.service=\(service)\"]}"
            let escaped = filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filter
            guard let list = try get("/containers/json?filters=\(escaped)") as? [[String: Any]], let id = list.first?["Id"] as? String else {
                throw BenchError("no running \(service) container in \(project)")
            }
            return id
        }

        func logPath(_ id: String) throws -> String {
            guard let object = try get("/containers/\(id)/json") as? [String: Any], let path = object["LogPath"] as? String, !path.isEmpty else {
                throw BenchError("the container has no json-file LogPath")
            }
            return path
        }
    }
}
