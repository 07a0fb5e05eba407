import Foundation
import Shared

/// Whether the installed compose accepts the install's compose files with its `.env`
/// (`compose config -q` in the install directory): a project it rejects cannot be started,
/// updated or recreated (QFieldCloud #1047: compose 2.24.1 rejecting the override). Compose
/// v1 is Python: one check costs ~0.85 s of CPU, against a probe cycle of ~25 ms. So it runs
/// when the agent starts and again only when what it depends on changed — `.env`, a compose
/// file, the compose program itself (an upgrade) — or after `interval` (default a day) as a
/// safety net. A probe that could not look (no compose) is remembered the same way instead of
/// asked again every cycle.
struct ComposeProbe: Probe {
    let name = "compose"
    var compose: ComposeProject
    var interval: TimeInterval
    var now: @Sendable () -> Date = { Date() }

    private let cache = LockedValue<Cache?>(nil)

    struct Cache: Sendable {
        var checkedAt: Date
        var stamps: [String: Date]
        var result: ProbeResult
    }

    init(compose: ComposeProject, interval: TimeInterval, now: @escaping @Sendable () -> Date = { Date() }) {
        self.compose = compose
        self.interval = interval
        self.now = now
    }

    /// `.env` and the files compose reads: COMPOSE_FILE, or its defaults.
    func watchedFiles(_ directory: String) -> [String] {
        let environment = compose.environmentFile()
        var files: [String]
        if let list = environment["COMPOSE_FILE"], !list.isEmpty {
            let separator = environment["COMPOSE_PATH_SEPARATOR"]
            files = list.split { character in
                if let separator { return String(character) == separator }
                return character == ":" || character == ";"
            }.map(String.init)
        } else {
            files = ["docker-compose.yml", "docker-compose.override.yml"]
        }
        return [directory + "/.env"] + files.map { $0.hasPrefix("/") ? $0 : directory + "/" + $0 }
    }

    /// Where the compose programs live: `docker-compose` and `docker` on PATH, and the places
    /// the Docker CLI loads its compose plugin from. A file that is not there stamps as
    /// distantPast, so installing one counts as a change too.
    static func programPaths(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> [String] {
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        let plugins = ["/usr/libexec/docker/cli-plugins", "/usr/lib/docker/cli-plugins", "/usr/local/lib/docker/cli-plugins",
                       "/usr/local/libexec/docker/cli-plugins"].map { $0 + "/docker-compose" }
        return directories.flatMap { [$0 + "/docker-compose", $0 + "/docker"] } + plugins
    }

    func collect() async -> ProbeResult {
        guard let directory = compose.directory else { return ProbeResult() }
        let now = now()
        var stamps: [String: Date] = [:]
        for path in watchedFiles(directory) + Self.programPaths() {
            stamps[path] = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date ?? .distantPast
        }
        if let cached = cache.value, cached.stamps == stamps, now.timeIntervalSince(cached.checkedAt) < interval { return cached.result }
        let result: ProbeResult
        do {
            let outcome = try await compose.run(["config", "-q"], timeout: 60)
            result = ProbeResult(findings: outcome.succeeded ? [] : [finding(outcome, directory: directory)])
        } catch {
            // Compose missing: the probe could not look, until compose is installed (a change
            // of the programs' stamps) or the interval passes.
            result = ProbeResult(error: "\(error)", fix: "install docker compose (or docker-compose), or set `[compose] directory` in agent.toml")
        }
        cache.value = Cache(checkedAt: now, stamps: stamps, result: result)
        return result
    }

    func finding(_ outcome: ProcessOutcome, directory: String) -> Finding {
        let text = outcome.timedOut ? "it did not finish within 60 s" : (outcome.stderr + outcome.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
        // Compose v1 puts the file on one line and the reason on the next ones.
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let first = lines.isEmpty ? "exit \(outcome.status)" : String(Redactor.redact(lines.prefix(3).joined(separator: " ")).prefix(600))
        return Finding(.composeInvalid, severity: .critical, subject: "compose",
            message: "compose rejects the project in \(directory) (`config -q`, exit \(outcome.status)): \(first) — fix the file it names, "
                + "then check with `docker compose config -q` (or `docker-compose config -q`) there before any `up`",
            evidence: ["directory": directory, "exit_status": String(outcome.status), "compose_error": String(Redactor.redact(text).prefix(2000))])
    }
}
