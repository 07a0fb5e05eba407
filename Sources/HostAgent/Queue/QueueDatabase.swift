import Foundation
import Shared

/// Runs SQL against QFieldCloud's database with `psql`: either inside the compose `db`
/// container with its own credentials (`docker compose exec -T db psql`), or to a DSN.
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

    static let baseArguments = ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]

    /// Rows of tab-separated fields.
    func query(_ sql: String, variables: [String: String] = [:]) async throws(QueueError) -> [[String]] {
        let variableArguments = variables.sorted { $0.key < $1.key }.flatMap { ["-v", "\($0.key)=\($0.value)"] }
        let outcome: ProcessOutcome
        do {
            switch target {
            case .dsn(let dsn):
                let (url, password) = Self.splitPassword(dsn)
                var environment: [String: String] = [:]
                if let password { environment["PGPASSWORD"] = password }
                outcome = try await runner.run(ProcessCommand(
                    executable: "psql", arguments: [url] + Self.baseArguments + variableArguments + ["-f", "-"],
                    environment: environment, input: sql, timeout: timeout))
            case .dockerExec(let project):
                let env = project.environmentFile()
                let user = env["POSTGRES_USER"] ?? "postgres"
                let database = env["POSTGRES_DB"] ?? user
                outcome = try await project.run(
                    ["exec", "-T", "db", "psql", "-U", user, "-d", database] + Self.baseArguments + variableArguments + ["-f", "-"],
                    input: sql, timeout: timeout)
            }
        } catch {
            throw .unreachable("\(error)")
        }
        guard outcome.succeeded else {
            let detail = Redactor.redact(outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
            // psql: 2 = the connection failed; anything else with ON_ERROR_STOP = the SQL failed.
            if outcome.timedOut || outcome.status == 2 || detail.contains("could not connect") || detail.contains("connection to server")
                || detail.contains("is not running") || detail.contains("No such service") || detail.contains("no container") {
                throw .unreachable(detail.isEmpty ? "psql exited \(outcome.status)" : detail)
            }
            throw .failed(detail.isEmpty ? "psql exited \(outcome.status)" : detail)
        }
        return outcome.stdout.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
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
