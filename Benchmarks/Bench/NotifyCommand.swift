import ArgumentParser
import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Notifications through the real coordinator binary to a local webhook receiver: how long an
/// event takes from the outbox to the receiver (p50, p99), and what a burst becomes.
///
/// The events are real: agents that stop reporting. Latency first, on a small fleet: with no
/// grouping window, agents are enrolled one at a time and each one's event is timed from its
/// `at` (the start of the watcher pass that stored it) to its arrival at the receiver. Burst:
/// N agents are enrolled while `offline_after` is an hour, then the coordinator restarts with
/// it at one second, so its watcher finds all N offline in one pass (N `agent_offline` events
/// at once).
struct NotifyBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Event → webhook delivery latency (p50, p99) and a burst of N events → messages, through a real coordinator.")

    @Option(help: "The fieldmedic-coordinator binary.") var coordinator: String
    @Option(help: "Agents going offline at once in the burst.") var burst: Int = 1000
    @Option(help: "Agents going offline one at a time for the latency figures.") var latency: Int = 50
    @Option(help: "The channel's group_window during the burst.") var window: String = "2s"
    @Option(help: "Work directory (created; removed afterwards unless --keep).") var workDir: String = NSTemporaryDirectory() + "fieldmedic-bench-notify"
    @Flag(help: "Keep the work directory.") var keep = false

    func validate() throws {
        guard burst >= 1, latency >= 1 else { throw ValidationError("--burst and --latency must be at least 1") }
        guard DurationText.parse(window) != nil else { throw ValidationError("--window must be a duration such as 2s") }
    }

    func run() throws {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { if !keep { try? FileManager.default.removeItem(atPath: workDir) } }
        let data = workDir + "/coordinator"
        let config = data + "/coordinator.toml"
        let agentsPort = try freePort(), operatorPort = try freePort()
        try runToCompletion(coordinator, ["init", "--data-dir", data, "--agents-listen", "127.0.0.1:\(agentsPort)", "--operator-listen", "127.0.0.1:\(operatorPort)",
                               "--server-name", "127.0.0.1"])
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try SecretFile.write("bench-webhook-secret\n", to: workDir + "/webhook.secret")
        let base = try String(contentsOfFile: config, encoding: .utf8)
        func writeConfig(offlineAfter: String, window: String) throws {
            let text = base.replacingOccurrences(of: "offline_after = \"3m\"", with: "offline_after = \"\(offlineAfter)\"") + """

                [predict]
                evaluate_every = "0.2s"

                [[notify]]
                name = "bench"
                kind = "webhook"
                url = "http://127.0.0.1:\(receiver.port)/hook"
                secret_file = "\(workDir)/webhook.secret"
                events = ["agent_offline"]
                group_window = "\(window)"

                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        let server = CoordinatorProcess(binary: coordinator, config: config, log: workDir + "/coordinator.log",
                                        operatorURL: "http://127.0.0.1:\(operatorPort)", tokenFile: data + "/operator.token")
        defer { server.stop() }
        func enroll(prefix: String, count: Int) throws {
            var command = try EnrollCommand.parse([
                "--url", "https://127.0.0.1:\(agentsPort)", "--ca", data + "/pki/ca.pem", "--operator-url", "http://127.0.0.1:\(operatorPort)",
                "--operator-token-file", data + "/operator.token", "--agents", String(count), "--name-prefix", prefix,
                "--identities", workDir + "/agents-\(prefix)",
            ])
            try command.run()
        }

        // Latency.
        // First, while the fleet is small: the watcher's pass (whose start time is the
        // event's `at`) is short, so the figure is the outbox's, not the watcher's.
        try writeConfig(offlineAfter: "1s", window: "0s")
        try server.start()
        var samples: [UInt64] = []
        for index in 1...latency {
            let before = receiver.eventCount
            try enroll(prefix: "lat\(index)", count: 1)
            let until = Date().addingTimeInterval(30)
            while receiver.eventCount == before && Date() < until { usleep(2_000) }
            guard let sample = receiver.lastLatency else { throw BenchError("agent lat\(index)-001's offline event did not arrive within 30 s") }
            samples.append(UInt64(max(0, sample) * 1e9))
        }
        let summary = LatencySummary(nanoseconds: samples)
        print(String(format: "notify latency: event stored → webhook received, n=%d: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
                     summary.count, summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.maxMs))

        // Burst.
        server.stop()
        try writeConfig(offlineAfter: "1h", window: window)
        try server.start()
        try enroll(prefix: "burst", count: burst)
        server.stop()
        try writeConfig(offlineAfter: "1s", window: window)
        receiver.reset()
        let burstStart = Date()
        try server.start()
        let deadline = Date().addingTimeInterval(Double(burst) * 0.2 + 60)
        while receiver.distinctEvents < burst && Date() < deadline { usleep(20_000) }
        let burstTime = Date().timeIntervalSince(burstStart)
        let (messages, events, distinct) = (receiver.messageCount, receiver.eventCount, receiver.distinctEvents)
        print(String(format: "notify burst: %d agents offline at once → %d events delivered (%d distinct, %d lost, %d repeated) in %d webhook messages (group_window %@); last delivery %.1f s after the restart",
                     burst, events, distinct, burst - distinct, events - distinct, messages, window, burstTime))
        if distinct < burst { throw BenchError("\(burst - distinct) of \(burst) events were not delivered within the deadline; see \(workDir)/coordinator.log (use --keep)") }
    }

}

/// Runs `binary arguments` to its end (standard output discarded); throws unless it exits 0.
func runToCompletion(_ binary: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("\(binary) \(arguments.first ?? "") exited with \(process.terminationStatus)") }
}

/// `fieldmedic-coordinator serve`, started and stopped (SIGTERM) by the benchmark.
final class CoordinatorProcess {
    let binary: String
    let config: String
    let log: String
    let operatorURL: String
    let tokenFile: String
    private var process: Process?

    init(binary: String, config: String, log: String, operatorURL: String, tokenFile: String) {
        self.binary = binary
        self.config = config
        self.log = log
        self.operatorURL = operatorURL
        self.tokenFile = tokenFile
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", config]
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        let client = try OperatorAPIClient(baseURL: operatorURL, tokenFile: tokenFile)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? client.reportCounts()) != nil { return }
            guard process.isRunning else { throw BenchError("the coordinator exited at start; see \(log)") }
            usleep(50_000)
        }
        throw BenchError("the coordinator's operator API did not answer within 30 s; see \(log)")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }
}

/// A webhook endpoint on 127.0.0.1: one thread, one request per connection (answers
/// `Connection: close`), records each message's events and their delivery latency.
final class WebhookReceiver: @unchecked Sendable {
    // @unchecked: the counters are read and written while holding `lock`; the socket is
    // closed once by `stop`, which the accept thread notices.
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var seen: [String: Int] = [:]
    private var messages = 0
    private var events = 0
    private var latest: Double?
    private var arrivals: [Arrival] = []

    /// One event as it arrived: what the coordinator stamped and when the receiver had it.
    struct Arrival: Sendable {
        var kind: String
        var dedupeKey: String
        var title: String
        var at: Date?
        var arrival: Date
    }

    var messageCount: Int { lock.withLock { messages } }
    var eventCount: Int { lock.withLock { events } }
    var distinctEvents: Int { lock.withLock { seen.count } }
    /// Seconds from the newest event's `at` to its arrival.
    var lastLatency: Double? { lock.withLock { latest } }
    /// Every event received since the last reset, in order.
    var received: [Arrival] { lock.withLock { arrivals } }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw BenchError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Forgets what arrived so far (between phases).
    func reset() {
        lock.withLock {
            seen = [:]
            messages = 0
            events = 0
            latest = nil
            arrivals = []
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var expected: Int?
        var headerEnd: Data.Index?
        while true {
            let n = read(connection, &chunk, chunk.count)
            if n <= 0 { return }
            buffer.append(contentsOf: chunk[0..<n])
            if headerEnd == nil, let range = buffer.range(of: Data("\r\n\r\n".utf8)) {
                headerEnd = range.upperBound
                let head = String(decoding: buffer[buffer.startIndex..<range.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = range.upperBound + length
            }
            if let expected, buffer.count >= expected { break }
        }
        let arrival = Date()
        let body = buffer[headerEnd!...]
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        _ = answer.withCString { write(connection, $0, strlen($0)) }
        struct Payload: Decodable {
            struct Event: Decodable { var kind: String; var dedupe_key: String; var title: String; var at: String }
            var events: [Event]
        }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(body)) else { return }
        lock.withLock {
            messages += 1
            events += payload.events.count
            for event in payload.events {
                seen[event.dedupe_key, default: 0] += 1
                arrivals.append(Arrival(kind: event.kind, dedupeKey: event.dedupe_key, title: event.title, at: WireDate.parse(event.at), arrival: arrival))
            }
            if let newest = payload.events.compactMap({ WireDate.parse($0.at) }).max() { latest = arrival.timeIntervalSince(newest) }
        }
    }
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { throw BenchError("no free port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}
