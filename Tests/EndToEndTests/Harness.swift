import Foundation
import GRDB
import Shared
import Testing

/// Runs the real `fieldmedic-coordinator` and `fieldmedic-agent` binaries on loopback in a
/// throwaway directory. Everything is waited for by polling with a deadline.
final class Harness: @unchecked Sendable {
    // @unchecked: tests drive a harness from one task at a time; `processes` is guarded by `lock`.
    let root: String
    let agentsPort: Int
    let operatorPort: Int
    private let lock = NSLock()
    private var processes: [String: Process] = [:]

    static let binDir: String = {
        if let dir = ProcessInfo.processInfo.environment["FIELDMEDIC_BIN_DIR"] { return dir }
        // Tests/EndToEndTests/Harness.swift → package root → .build/debug
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }()

    static var coordinatorBinary: String { binDir + "/fieldmedic-coordinator" }
    static var agentBinary: String { binDir + "/fieldmedic-agent" }

    init() throws {
        for binary in [Self.coordinatorBinary, Self.agentBinary] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw HarnessError("\(binary) is missing: build it first with `swift build` (scripts/test.sh does), or set FIELDMEDIC_BIN_DIR")
        }
        root = NSTemporaryDirectory() + "fieldmedic-e2e-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        agentsPort = try Self.freePort()
        operatorPort = try Self.freePort()
    }

    deinit {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["FIELDMEDIC_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    var dataDir: String { root + "/coordinator" }
    var coordinatorConfig: String { dataDir + "/coordinator.toml" }
    var coordinatorURL: String { "https://127.0.0.1:\(agentsPort)" }
    var operatorToken: String { (try? String(contentsOfFile: dataDir + "/operator.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
    func agentConfig(_ name: String) -> String { root + "/\(name)/agent.toml" }
    func agentState(_ name: String) -> String { root + "/\(name)/state" }

    // MARK: Coordinator

    /// `init` plus extra lines appended to the `[agents]` section of coordinator.toml.
    func initCoordinator(agentsSettings: [String: String] = [:]) throws {
        let result = try run(Self.coordinatorBinary, [
            "init", "--data-dir", dataDir, "--agents-listen", "127.0.0.1:\(agentsPort)",
            "--operator-listen", "127.0.0.1:\(operatorPort)", "--server-name", "127.0.0.1", "--server-name", "localhost",
        ])
        try result.expectSuccess("coordinator init")
        if !agentsSettings.isEmpty {
            var text = try String(contentsOfFile: coordinatorConfig, encoding: .utf8)
            for (key, value) in agentsSettings {
                let pattern = try NSRegularExpression(pattern: "(?m)^\(key) = .*$")
                text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "\(key) = \(value)")
            }
            try text.write(toFile: coordinatorConfig, atomically: true, encoding: .utf8)
        }
    }

    func startCoordinator(environment: [String: String] = [:]) throws {
        try start("coordinator", Self.coordinatorBinary, ["serve", "--config", coordinatorConfig], environment: environment)
        try waitUntil("the coordinator's operator API answers", timeout: 30) { (try? self.operatorGET("/operator/status"))?.status == 200 }
    }

    func stopCoordinator() throws { try stop("coordinator") }

    /// The running coordinator's pid (nil when it is not running).
    var coordinatorPID: Int32? { lock.withLock { processes["coordinator"].flatMap { $0.isRunning ? $0.processIdentifier : nil } } }

    func coordinator(_ arguments: [String]) throws -> CommandOutput {
        try run(Self.coordinatorBinary, arguments + ["--config", coordinatorConfig])
    }

    /// `agents add NAME` → the token on its last line.
    func addAgent(_ name: String) throws -> String {
        let result = try coordinator(["agents", "add", name])
        try result.expectSuccess("agents add \(name)")
        return String(result.stdout.split(separator: "\n").last ?? "")
    }

    // MARK: Agents

    func enroll(_ name: String, token: String, url: String? = nil) throws -> CommandOutput {
        try run(Self.agentBinary, [
            "enroll", "--config", agentConfig(name), "--state-dir", agentState(name), "--coordinator", url ?? coordinatorURL,
            "--name", name, "--token", token,
        ])
    }

    /// Enrolls `name` and sets its report interval.
    func enrollAgent(_ name: String, interval: String = "1s") throws {
        try enroll(name, token: try addAgent(name)).expectSuccess("enroll \(name)")
        var text = try String(contentsOfFile: agentConfig(name), encoding: .utf8)
        text = text.replacingOccurrences(of: "interval = \"60s\"", with: "interval = \"\(interval)\"")
        try text.write(toFile: agentConfig(name), atomically: true, encoding: .utf8)
    }

    /// Replaces agent.toml (the identity stays in the state dir from enrollment).
    func writeAgentConfig(_ name: String, _ body: String) throws {
        try "[state]\ndir = \"\(agentState(name))\"\n\n\(body)".write(toFile: agentConfig(name), atomically: true, encoding: .utf8)
        try run(Self.agentBinary, ["check-config", "--config", agentConfig(name)]).expectSuccess("check-config of the new agent.toml")
    }

    func startAgent(_ name: String, environment: [String: String] = [:]) throws {
        try start("agent-\(name)", Self.agentBinary, ["run", "--config", agentConfig(name)], environment: environment)
    }

    func stopAgent(_ name: String) throws { try stop("agent-\(name)") }

    func killAgent(_ name: String) throws { try stop("agent-\(name)", signal: SIGKILL) }

    /// A read-only look at an agent's SQLite state (spool, journal).
    func agentDatabase(_ name: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: agentState(name) + "/agent.sqlite3", configuration: configuration)
    }

    func spoolCount(_ name: String) throws -> Int {
        try agentDatabase(name).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM spool") ?? 0 }
    }

    // MARK: Operator API

    func operatorGET(_ path: String) throws -> HTTPResponse {
        try CurlHTTPClient().perform(HTTPRequest(
            url: "http://127.0.0.1:\(operatorPort)\(path)", headers: [("Authorization", "Bearer \(operatorToken)")], timeout: 30))
    }

    func operatorPOST(_ path: String, _ json: String) throws -> HTTPResponse {
        try CurlHTTPClient().perform(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(operatorPort)\(path)",
            headers: [("Authorization", "Bearer \(operatorToken)"), ("Content-Type", "application/json")], body: Data(json.utf8), timeout: 30))
    }

    func operatorJSON(_ path: String) throws -> Any {
        let response = try operatorGET(path)
        guard response.status == 200 else { throw HarnessError("GET \(path) → \(response.status): \(response.bodyText)") }
        return try JSONSerialization.jsonObject(with: response.body)
    }

    /// Sequences of stored reports of `agent`, in the order the coordinator stored them.
    func storedSequences(_ agent: String) throws -> [Int] {
        let rows = try operatorJSON("/operator/agents/\(agent)/reports?limit=100000") as? [[String: Any]] ?? []
        return rows.compactMap { $0["sequence"] as? Int }
    }

    func auditActions() throws -> [String] {
        let result = try coordinator(["audit", "export"])
        try result.expectSuccess("audit export")
        return result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["action"] as? String
        }
    }

    /// An mTLS client with arbitrary certificate files, for the rejection tests.
    func client(certificate: String? = nil, key: String? = nil) -> CurlHTTPClient {
        CurlHTTPClient(tls: CurlTLSOptions(caFile: dataDir + "/pki/ca.pem", certificateFile: certificate, keyFile: key))
    }

    // MARK: Processes

    func start(_ label: String, _ binary: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["FIELDMEDIC_LOG_LEVEL"] = env["FIELDMEDIC_LOG_LEVEL"] ?? "debug"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let log = root + "/\(label).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        lock.withLock { processes[label] = process }
    }

    func stop(_ label: String, signal: Int32 = SIGTERM) throws {
        guard let process = lock.withLock({ processes.removeValue(forKey: label) }) else { return }
        kill(process.processIdentifier, signal)
        try waitUntil("\(label) exits after signal \(signal)", timeout: 30) { !process.isRunning }
        process.waitUntilExit()
        if signal == SIGTERM, process.terminationStatus != 0 {
            throw HarnessError("\(label) exited with \(process.terminationStatus) after SIGTERM; log:\n\(log(label))")
        }
    }

    func log(_ label: String) -> String {
        (try? String(contentsOfFile: root + "/\(label).log", encoding: .utf8)) ?? ""
    }

    func run(_ binary: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = root + "/run-\(UUID().uuidString).out"
        let err = out + ".err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        process.waitUntilExit()
        defer {
            unlink(out)
            unlink(err)
        }
        return CommandOutput(
            arguments: arguments, status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func waitUntil(_ what: String, timeout: TimeInterval, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(50_000)
        }
        if try condition() { return }
        throw HarnessError("timed out after \(Int(timeout))s waiting until \(what)\n--- coordinator log (tail) ---\n\(log("coordinator").suffix(3000))")
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("cannot bind a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct CommandOutput {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String

    func expectSuccess(_ what: String) throws {
        guard status == 0 else { throw HarnessError("\(what) failed with exit \(status):\n\(stdout)\n\(stderr)") }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
