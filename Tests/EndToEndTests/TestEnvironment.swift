import Foundation
import Shared
import Testing

/// The private Docker engine, testbed and PostgreSQL that scripts/test.sh starts
/// (scripts/testenv.sh). Tests that need them fail, with the command to run, when they are
/// missing: they are never skipped.
struct TestEnvironment: Sendable {
    var dockerSocket: String
    var testbedDir: String
    var project: String
    var appPort: Int
    var httpPort: Int
    var pgDSN: String
    var image: String

    static func require() throws -> TestEnvironment {
        let env = ProcessInfo.processInfo.environment
        func value(_ key: String) throws -> String {
            guard let value = env[key], !value.isEmpty else {
                throw HarnessError("\(key) is not set: these tests need the private Docker engine, testbed and PostgreSQL. Run them with scripts/test.sh (it installs and starts everything), e.g. scripts/test.sh --filter Testbed")
            }
            return value
        }
        return TestEnvironment(
            dockerSocket: try value("FIELDMEDIC_TEST_DOCKER_SOCKET"), testbedDir: try value("FIELDMEDIC_TESTBED_DIR"),
            project: try value("FIELDMEDIC_TESTBED_PROJECT"), appPort: Int(try value("FIELDMEDIC_TESTBED_APP_PORT")) ?? 0,
            httpPort: Int(try value("FIELDMEDIC_TESTBED_HTTP_PORT")) ?? 0, pgDSN: try value("FIELDMEDIC_TEST_PG_DSN"),
            image: env["FIELDMEDIC_TEST_IMAGE"] ?? "fieldmedic/busybox:test")
    }

    /// Runs a program with the private engine as DOCKER_HOST.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], input: String? = nil, check: Bool = true) throws -> CommandOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DOCKER_HOST"] = "unix://\(dockerSocket)"
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: testbedDir)
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = CommandOutput(
            arguments: [executable] + arguments, status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
        if check { try result.expectSuccess(([executable] + arguments).joined(separator: " ")) }
        return result
    }

    /// agent.toml for an agent watching this testbed (after `[state]`, which the harness adds).
    func agentConfig(interval: String = "30s", disks: String? = nil, actions: String = "", settle: String = "2s") -> String {
        """
        [report]
        interval = "\(interval)"
        \(disks.map { "[disks]\nmounts = [\"\($0)\"]" } ?? "")
        [docker]
        socket = "\(dockerSocket)"
        [compose]
        project = "\(project)"
        directory = "\(testbedDir)"
        [queue]
        mode = "dsn"
        dsn = "\(pgDSN)"
        [status]
        url = "http://127.0.0.1:\(appPort)/api/v1/status/"
        host = "localhost"
        [actions]
        \(actions)
        settle = "\(settle)"
        backoff = "0s"
        """
    }

    func docker(_ arguments: [String], check: Bool = true) throws -> CommandOutput { try run("docker", arguments, check: check) }

    /// docker-compose in an install directory, as an operator runs it there: its `.env`
    /// chooses project and files (the test's environment must not override them).
    @discardableResult
    func compose(in directory: String? = nil, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-compose"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? testbedDir)
        var environment = ProcessInfo.processInfo.environment
        environment["DOCKER_HOST"] = "unix://" + dockerSocket
        for key in ["COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR"] { environment.removeValue(forKey: key) }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("docker-compose \(arguments.joined(separator: " ")) in \(directory ?? testbedDir) exited \(process.terminationStatus): \(text)")
        }
        return text
    }

    func psql(_ sql: String) throws -> String {
        try run("psql", [pgDSN, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"], input: sql).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func containerIDs(_ service: String, all: Bool = true) throws -> [String] {
        try docker(["ps", all ? "-aq" : "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=\(project)",
                    "--filter", "label=com.docker.compose.service=\(service)"]).stdout.split(separator: "\n").map(String.init)
    }

    func inspect(_ id: String, _ format: String) throws -> String {
        try docker(["inspect", "-f", format, id]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A real crash: the container's main process dies on its own (docker kill would count
    /// as a manual stop and disable the restart policy).
    func crash(_ service: String) throws {
        for id in try containerIDs(service, all: false) {
            let pid = try inspect(id, "{{.State.Pid}}")
            guard pid != "0" else { continue }  // not running: nothing to kill
            let killed = try run("kill", ["-KILL", pid], check: false)
            if killed.status != 0 {
                // The process can exit on its own between inspect and kill (crash mode makes
                // the worker exit within a second); only a process still running is an error.
                let now = try inspect(id, "{{.State.Running}} {{.State.Pid}}")
                if now == "true \(pid)" {
                    throw HarnessError("kill -KILL \(pid) failed with exit \(killed.status) and the process still runs: \(killed.stderr)")
                }
            }
        }
    }

    func setStatus(_ json: String) throws {
        let path = testbedDir + "/state/status.json"
        try AtomicFile.write(Data(json.utf8), to: path)
    }

    enum WorkerMode { case ok, crash, oom, oomChild }

    func workerMode(_ mode: WorkerMode) throws {
        let crash = testbedDir + "/state/worker_wrapper.crash"
        let oom = testbedDir + "/state/worker_wrapper.oom"
        let oomChild = testbedDir + "/state/worker_wrapper.oom-child"
        unlink(crash)
        unlink(oom)
        unlink(oomChild)
        switch mode {
        case .ok: break
        case .crash: FileManager.default.createFile(atPath: crash, contents: nil)
        case .oom: FileManager.default.createFile(atPath: oom, contents: nil)
        case .oomChild: FileManager.default.createFile(atPath: oomChild, contents: nil)
        }
    }

    /// The app answers after 4 s, past the testbed nginx's 2 s read timeout (504).
    func appSlow(_ slow: Bool) throws {
        let path = testbedDir + "/state/app.slow"
        unlink(path)
        if slow { FileManager.default.createFile(atPath: path, contents: nil) }
    }

    /// The QFIELDCLOUD_HOST the testbed nginx compares Host with; nil = the one in .env.
    func nginxHost(_ host: String?) throws {
        let path = testbedDir + "/state/nginx.qfieldcloud_host"
        unlink(path)
        if let host { try AtomicFile.write(Data(host.utf8), to: path) }
    }

    /// Puts the testbed back: switches off, every long-running service running.
    func restore() throws {
        try workerMode(.ok)
        try appSlow(false)
        try nginxHost(nil)
        try setStatus(#"{"database":"ok","storage":"ok"}"#)
        try run("docker-compose", ["up", "-d", "--no-recreate", "app", "nginx", "worker_wrapper", "db", "memcached", "ofelia", "certbot"])
        try waitUntil("every testbed service runs", timeout: 60) {
            for service in ["app", "nginx", "worker_wrapper", "db", "memcached", "ofelia", "certbot"] {
                for id in try containerIDs(service) where try inspect(id, "{{.State.Status}}") != "running" { return false }
            }
            return true
        }
    }

    func waitUntil(_ what: String, timeout: TimeInterval, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(100_000)
        }
        if try condition() { return }
        throw HarnessError("timed out after \(Int(timeout))s waiting until \(what)")
    }

    func waitUntilAsync(_ what: String, timeout: TimeInterval, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        if try await condition() { return }
        throw HarnessError("timed out after \(Int(timeout))s waiting until \(what)")
    }
}
