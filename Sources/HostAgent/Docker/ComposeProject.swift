import Foundation
import Shared

/// A QFieldCloud install: its directory, its `.env`, and the compose CLI run there, so that
/// compose sees the same COMPOSE_FILE and COMPOSE_PROJECT_NAME as the operator would.
struct ComposeProject: Sendable {
    var project: String
    var directory: String?
    var dockerSocket: String
    var runner: any CommandRunner

    /// `KEY=value` lines of `.env` (quotes removed, comments skipped).
    func environmentFile() -> [String: String] {
        guard let directory, let text = try? String(contentsOfFile: directory + "/.env", encoding: .utf8) else { return [:] }
        return Self.parseEnvironment(text)
    }

    /// `.env` as compose reads it: `KEY=value`, `export KEY=value`, comments, quotes, and a
    /// quoted value that spans lines (QFieldCloud's `STORAGES` JSON is written that way).
    static func parseEnvironment(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            var line = lines[index].trimmingCharacters(in: .whitespaces)
            index += 1
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                // Until the closing quote, on this line or a later one; what follows it is ignored.
                var collected = String(value.dropFirst())
                while !collected.contains(quote) && index < lines.count {
                    collected += "\n" + lines[index].trimmingCharacters(in: .init(charactersIn: "\r"))
                    index += 1
                }
                value = collected.firstIndex(of: quote).map { String(collected[..<$0]) } ?? collected
            } else if let hash = value.range(of: " #") {
                value = String(value[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            values[key] = value
        }
        return values
    }

    /// Which compose CLI answered, per socket: detecting it costs two process starts (one of
    /// them Python), too much to repeat every probe cycle. Installing the other one needs an
    /// agent restart to be noticed.
    private static let detected = LockedValue<[String: [String]]>([:])

    /// `docker compose` (v2 plugin) when it answers, else `docker-compose` (v1).
    func composeCommand() async -> [String]? {
        if let known = Self.detected.value[dockerSocket] { return known }
        guard let found = await detectComposeCommand() else { return nil }
        Self.detected.withLock { $0[dockerSocket] = found }
        return found
    }

    private func detectComposeCommand() async -> [String]? {
        let environment = ["DOCKER_HOST": "unix://\(dockerSocket)"]
        if let outcome = try? await runner.run(ProcessCommand(executable: "docker", arguments: ["compose", "version"], environment: environment, timeout: 20)),
           outcome.succeeded {
            return ["docker", "compose"]
        }
        if let outcome = try? await runner.run(ProcessCommand(executable: "docker-compose", arguments: ["version"], environment: environment, timeout: 20)),
           outcome.succeeded {
            return ["docker-compose"]
        }
        return nil
    }

    /// Runs `compose ARGS…` in the install directory.
    func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 300) async throws -> ProcessOutcome {
        guard let directory else {
            throw OperationalError("compose.directory is not set in agent.toml: the agent does not know where the QFieldCloud install (and its .env) is")
        }
        guard let compose = await composeCommand() else {
            throw OperationalError("neither `docker compose` nor `docker-compose` is installed")
        }
        var environment = ["DOCKER_HOST": "unix://\(dockerSocket)"]
        // .env names the project; fall back to the configured one when it does not.
        if environmentFile()["COMPOSE_PROJECT_NAME"] == nil { environment["COMPOSE_PROJECT_NAME"] = project }
        return try await runner.run(ProcessCommand(
            executable: compose[0], arguments: Array(compose.dropFirst()) + arguments, environment: environment,
            workingDirectory: directory, input: input, timeout: timeout))
    }
}
