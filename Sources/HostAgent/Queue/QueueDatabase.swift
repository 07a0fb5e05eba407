import Foundation
import Shared

/// Runs SQL against QFieldCloud's database with `psql`: either inside the compose `db`
/// container with its own credentials (what `docker compose exec -T db psql` does, through
/// the Engine API), or to a DSN.
/// SQL goes in on stdin; values go in as psql variables (`-v name=value`, used as
/// `:'name'` or `:name`), which psql quotes — never spliced into the text.
struct QueueDatabase: Sendable {
    enum Target: Sendable {
        case dockerExec(ComposeProject)
        case dsn(String)
    }

    var target: Target
    var runner: any CommandRunner
    var timeout: TimeInterval = 30
    /// The psql run in `dsn` mode (`PsqlLocator` finds the real one behind Debian's wrapper).
    var psql = "psql"
    /// The engine for `dockerExec` (tests pass a fake); nil = the project's socket.
    var engine: (any DockerEngine)?

    static let baseArguments = ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]

    /// psql and the server give up before the probe's deadline: a connection that hangs ends
    /// after `PGCONNECT_TIMEOUT`, a query that runs long is cancelled by the server
    /// (`statement_timeout`, an error in the SQL: exit 3). Otherwise a psql abandoned at the
    /// deadline would run on — inside the db container nothing can stop it (the Engine API
    /// has no call to end an exec), and its backend would hold its locks until it finished.
    var limits: [String: String] {
        let statementMs = max(1_000, Int((timeout - 2) * 1_000))
        return ["PGCONNECT_TIMEOUT": String(max(2, min(10, Int(timeout / 3)))), "PGOPTIONS": "-c statement_timeout=\(statementMs)"]
    }

    /// Rows of tab-separated fields.
    func query(_ sql: String, variables: [String: String] = [:]) async throws(QueueError) -> [[String]] {
        let variableArguments = variables.sorted { $0.key < $1.key }.flatMap { ["-v", "\($0.key)=\($0.value)"] }
        let outcome: ProcessOutcome
        do {
            switch target {
            case .dsn(let dsn):
                let (url, password) = Self.splitPassword(dsn)
                var environment = limits
                if let password { environment["PGPASSWORD"] = password }
                outcome = try await runner.run(ProcessCommand(
                    executable: psql, arguments: [url] + Self.baseArguments + variableArguments + ["-f", "-"],
                    environment: environment, input: sql, timeout: timeout))
            case .dockerExec(let project):
                let env = project.environmentFile()
                let user = env["POSTGRES_USER"] ?? "postgres"
                let database = env["POSTGRES_DB"] ?? user
                outcome = try inDatabaseContainer(
                    project, ["psql", "-U", user, "-d", database] + Self.baseArguments + variableArguments + ["-f", "-"], input: sql)
            }
        } catch let error as QueueError {
            throw error
        } catch {
            throw .unreachable("\(error)")
        }
        if let error = Self.classify(outcome, target: target) { throw error }
        return outcome.stdout.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// `docker compose exec -T db …` without compose: the Engine API's exec in the project's
    /// running `db` container. Starting compose v1 (Python) cost ~0.5 s of CPU per probe cycle.
    private func inDatabaseContainer(_ project: ComposeProject, _ command: [String], input: String) throws -> ProcessOutcome {
        let engine = self.engine ?? DockerEngineClient(socketPath: project.dockerSocket)
        let running = try engine.containers(project: project.project).filter {
            $0.service == "db" && $0.state == "running" && $0.labels["com.docker.compose.oneoff"] != "True"
        }
        guard let container = running.first else {
            throw QueueError.unreachable("the db service of compose project \(project.project) has no running container")
        }
        let environment = limits.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try engine.exec(container.id, command: command, environment: environment, input: Data(input.utf8), timeout: timeout)
    }

    /// What a failed psql run means. psql exits 3 when the SQL failed (ON_ERROR_STOP), 2 when
    /// the connection failed, 1 on its own fatal errors; an exec whose command cannot start
    /// exits 126/127. Only an error in the SQL is `failed`; anything else means the database
    /// could not be reached.
    static func classify(_ outcome: ProcessOutcome, target: Target) -> QueueError? {
        guard !outcome.succeeded else { return nil }
        let detail = Redactor.redact(outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        if outcome.status == 3 && !outcome.timedOut {
            return .failed(detail.isEmpty ? "psql exited 3" : detail)
        }
        if !detail.isEmpty { return .unreachable(detail) }
        if outcome.timedOut { return .unreachable("psql timed out") }
        switch target {
        case .dsn: return .unreachable("psql exited \(outcome.status)")
        case .dockerExec:
            return .unreachable("psql in the db container exited \(outcome.status) without a message")
        }
    }

    /// `postgresql://user:secret@host/db` → (`postgresql://user@host/db`, `secret`), so the
    /// password travels in PGPASSWORD, not in the process list.
    static func splitPassword(_ dsn: String) -> (String, String?) {
        guard var components = URLComponents(string: dsn), let password = components.password else { return (dsn, nil) }
        components.password = nil
        return (components.string ?? dsn, password.removingPercentEncoding ?? password)
    }
}

enum QueueError: Error, CustomStringConvertible {
    case unreachable(String)
    case failed(String)

    var description: String {
        switch self {
        case .unreachable(let why): return "cannot reach the QFieldCloud database: \(why)"
        case .failed(let why): return "query on the QFieldCloud database failed: \(why)"
        }
    }
}
