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
        switch target {
        case .dsn(let dsn):
            let (url, password) = Self.splitPassword(dsn)
            var environment = limits
            if let password { environment["PGPASSWORD"] = password }
            do {
                outcome = try await runner.run(ProcessCommand(
                    executable: psql, arguments: [url] + Self.baseArguments + variableArguments + ["-f", "-"],
                    environment: environment, input: sql, timeout: timeout))
            } catch {
                throw .couldNotLook("\(psql) could not be started: \(Redactor.redact("\(error)"))",
                                    fix: "install Debian's postgresql-client on this host, or set [queue] mode = \"off\"")
            }
        case .dockerExec(let project):
            let env = project.environmentFile()
            let user = env["POSTGRES_USER"] ?? "postgres"
            let database = env["POSTGRES_DB"] ?? user
            outcome = try inDatabaseContainer(
                project, ["psql", "-U", user, "-d", database] + Self.baseArguments + variableArguments + ["-f", "-"], input: sql)
        }
        if let error = Self.classify(outcome, target: target, timeout: timeout) { throw error }
        return Self.rows(outcome.stdout)
    }

    /// psql's unaligned, tuples-only output: one row per line, fields split by tabs.
    static func rows(_ stdout: String) -> [[String]] {
        stdout.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// What to set instead when psql cannot run inside the db container.
    static let dsnFix = "set [queue] mode = \"dsn\" with dsn = \"postgresql://USER@HOST:5432/DB\" (password in the agent's ~/.pgpass), or mode = \"off\""

    /// `docker compose exec -T db …` without compose: the Engine API's exec in the project's
    /// running `db` container. Starting compose v1 (Python) cost ~0.5 s of CPU per probe cycle.
    /// A db service that is missing or not running is something this probe could not look
    /// into, not evidence about the database: the Docker probe reports the container itself.
    private func inDatabaseContainer(_ project: ComposeProject, _ command: [String], input: String) throws(QueueError) -> ProcessOutcome {
        let engine = self.engine ?? DockerEngineClient(socketPath: project.dockerSocket)
        let all: [DockerContainer]
        do { all = try engine.containers(project: project.project) } catch {
            throw .couldNotLook("the Docker engine did not list the project's containers: \(error)",
                                fix: "check docker.socket in agent.toml and that the agent's user may use it (group docker)")
        }
        let db = all.filter { $0.service == "db" && $0.labels["com.docker.compose.oneoff"] != "True" }
        guard !db.isEmpty else {
            throw .couldNotLook("compose project \(project.project) has no db service (an external database?)", fix: Self.dsnFix)
        }
        guard let container = db.first(where: { $0.state == "running" }) else {
            throw .couldNotLook("the db container is not running (\(db.map { "\($0.name): \($0.state)" }.joined(separator: ", "))); the docker probe reports it", fix: nil)
        }
        let environment = limits.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        do {
            return try engine.exec(container.id, command: command, environment: environment, input: Data(input.utf8), timeout: timeout)
        } catch {
            throw .couldNotLook("running psql in \(container.name) through the Docker engine failed: \(error)", fix: nil)
        }
    }

    /// What a failed psql run means. Only psql's own words about the connection are evidence
    /// that the database refused or timed out (`unreachable`); an error in the SQL (exit 3,
    /// ON_ERROR_STOP) is `failed`; everything else — psql missing or not executable in the
    /// container (126/127), credentials or names that do not fit, the probe's own deadline, an
    /// exit without a word — means the probe could not look, which says nothing about the database.
    static func classify(_ outcome: ProcessOutcome, target: Target, timeout: TimeInterval = 30) -> QueueError? {
        guard !outcome.succeeded else { return nil }
        let detail = Redactor.redact(outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        let lower = detail.lowercased()
        let where_ = if case .dockerExec = target { "in the db container" } else { "on this host" }
        if outcome.timedOut {
            return .couldNotLook("psql \(where_) did not finish within the probe's \(DurationText.format(timeout)) (no answer either way)",
                                 fix: "look at the db container's load; the probe gives psql \(DurationText.format(timeout))")
        }
        if outcome.status == 126 || outcome.status == 127 {
            let why = outcome.status == 127 ? "not found" : "not executable"
            return .couldNotLook("psql cannot run \(where_) (exit \(outcome.status): \(why))" + (detail.isEmpty ? "" : ": \(oneLine(detail))"),
                                 fix: { if case .dockerExec = target { return dsnFix } else { return "install Debian's postgresql-client on this host" } }())
        }
        if outcome.status == 3 {
            return .failed(detail.isEmpty ? "psql exited 3" : detail)
        }
        if configurationWords.contains(where: lower.contains) {
            let fix = if case .dockerExec = target { "POSTGRES_USER and POSTGRES_DB in the install's .env must name the database's role and database" }
                else { "check the user, database and host in [queue] dsn (and the password in ~/.pgpass)" }
            return .couldNotLook("psql \(where_) was refused for its credentials or names: \(oneLine(detail))", fix: fix)
        }
        if connectionWords.contains(where: lower.contains) {
            return .unreachable(detail)
        }
        return .couldNotLook("psql \(where_) exited \(outcome.status)" + (detail.isEmpty ? " without a message" : ": \(oneLine(detail))"), fix: nil)
    }

    /// psql's and the server's words when the database refused or timed out.
    static let connectionWords = [
        "could not connect", "connection refused", "timeout expired", "server closed the connection", "connection to server",
        "the database system is starting up", "the database system is shutting down", "the database system is in recovery",
        "too many clients", "no such file or directory", "terminating connection",
    ]
    /// Refusals that come from what the agent was told to use, not from the database's health.
    static let configurationWords = [
        "password authentication failed", "authentication failed", "no pg_hba.conf entry", "does not exist",
        "could not translate host name", "permission denied", "no password supplied", "invalid dsn", "invalid connection option",
    ]

    static func oneLine(_ text: String) -> String {
        String((text.split(whereSeparator: \.isNewline).first ?? "").prefix(300))
    }

    /// `postgresql://user:secret@host/db` → (`postgresql://user@host/db`, `secret`), so the
    /// password travels in PGPASSWORD, not in the process list.
    static func splitPassword(_ dsn: String) -> (String, String?) {
        guard var components = URLComponents(string: dsn), let password = components.password else { return (dsn, nil) }
        components.password = nil
        return (components.string ?? dsn, password.removingPercentEncoding ?? password)
    }
}

enum QueueError: Error, CustomStringConvertible, Equatable {
    /// The database refused or timed out; the text is psql's own connection error.
    case unreachable(String)
    /// The SQL failed (psql exit 3).
    case failed(String)
    /// The probe could not look (psql missing, credentials, no db service, its own deadline):
    /// nothing is known about the database. `fix` names what would let it look.
    case couldNotLook(String, fix: String?)

    var description: String {
        switch self {
        case .unreachable(let why): return "cannot reach the QFieldCloud database: \(why)"
        case .failed(let why): return "query on the QFieldCloud database failed: \(why)"
        case .couldNotLook(let why, _): return "could not look at the job queue: \(why)"
        }
    }

    var fix: String? {
        if case .couldNotLook(_, let fix) = self { return fix }
        return nil
    }
}
