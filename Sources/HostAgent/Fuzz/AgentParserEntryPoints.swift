import Foundation
import Shared

/// The agent's parsers the outside world feeds: the Docker engine's JSON answers, and what
/// programs run in the project's containers print (psql's rows and errors, `find`'s
/// migration listing, the storage check's output, nginx's access log, the install's `.env`).
/// Replayed from Fuzz/corpus/TARGET by HostAgentTests' corpus test; fuzzed by scripts/fuzz.sh.
/// findings() reads only its thresholds: the database is never asked.
private let probe = QueueProbe(
    database: QueueDatabase(target: .dsn("postgresql://fuzz@127.0.0.1/fuzz"), runner: SubprocessRunner()),
    stuckAfter: 1200, backlogThreshold: 50, oldestPendingThreshold: 1800, failing: FailingJobsRule(window: 1800, minimumFailed: 3, minimumPercent: 50))

extension ParserEntryPoint {
    public static let agent: [ParserEntryPoint] = [
        // Every Engine API answer the agent reads, the same bytes through each reader.
        ParserEntryPoint(name: "docker") { data in
            _ = try? DockerJSON.containers(data)
            _ = try? DockerJSON.containerState(data, id: "fuzz")
            _ = try? DockerJSON.imageDetail(data)
            _ = try? DockerJSON.network(data, name: "fuzz_default")
            _ = try? DockerJSON.images(data)
            _ = try? DockerJSON.diskUsage(data)
            _ = DockerJSON.event(data)
            _ = DockerJSON.timedEvents(data)
            _ = DockerJSON.dieExitCodes(data)
            _ = DockerEngineClient.demultiplex(data)
        },
        // psql's output and errors, the migration listing, the storage check's answer.
        ParserEntryPoint(name: "psql") { data in
            let text = String(decoding: data, as: UTF8.self)
            let stats = QueueProbe.parse(QueueDatabase.rows(text))
            _ = probe.findings(stats)
            _ = MigrationsProbe.parse(text)
            let status = Int32(data.first ?? 0) - 128
            let outcome = ProcessOutcome(status: status, stdout: text, stderr: text, timedOut: data.count % 7 == 0)
            _ = QueueDatabase.classify(outcome, target: .dsn("postgresql://fuzz@127.0.0.1/fuzz"))
            _ = QueueDatabase.splitPassword(text)
            _ = StorageProbe.parsePython(outcome)
            _ = StorageProbe.parseWget(outcome)
        },
        // nginx's access log lines, the install's .env, curl's certificate dates.
        ParserEntryPoint(name: "logs") { data in
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n") { _ = AccessLogEntry.parse(line) }
            _ = ComposeProject.parseEnvironment(text)
            _ = EnvironmentLint.check(text)
            _ = StorageProbe.targets(ComposeProject.parseEnvironment(text))
            // The certificate dates curl prints for the served certificate (ICU parses them).
            for line in text.split(separator: "\n").prefix(16) { _ = TLSProbe.parseCurlDate(String(line)) }
        },
    ]
}
