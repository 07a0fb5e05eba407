import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// Answers `compose version` as v2 would and `compose config -q` with `configOutcome`; records
/// every `config` run.
/// Answers like a host without compose (127) and counts the programs started.
final class CountingRunner: CommandRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var _count = 0
    var count: Int { lock.withLock { _count } }
    func run(_ command: ProcessCommand) async throws -> ProcessOutcome {
        lock.withLock { _count += 1 }
        return ProcessOutcome(status: 127, stdout: "", stderr: "not found", timedOut: false)
    }
}

final class ComposeConfigRunner: CommandRunner, @unchecked Sendable {
    // @unchecked: both fields are only touched under `lock`.
    private let lock = NSLock()
    private var _configRuns: [ProcessCommand] = []
    private var _configOutcome = ProcessOutcome(status: 0, stdout: "", stderr: "", timedOut: false)

    var configRuns: [ProcessCommand] { lock.withLock { _configRuns } }
    var configOutcome: ProcessOutcome {
        get { lock.withLock { _configOutcome } }
        set { lock.withLock { _configOutcome = newValue } }
    }

    func run(_ command: ProcessCommand) async throws -> ProcessOutcome {
        if command.arguments.last == "version" { return ProcessOutcome(status: 0, stdout: "v2", stderr: "", timedOut: false) }
        return lock.withLock {
            _configRuns.append(command)
            return _configOutcome
        }
    }
}

@Suite struct ComposeProbeTests {
    func install() throws -> String {
        let directory = NSTemporaryDirectory() + "fm-compose-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "COMPOSE_FILE=docker-compose.yml:docker-compose.override.standalone.yml\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        try "services: {}\n".write(toFile: directory + "/docker-compose.yml", atomically: true, encoding: .utf8)
        try "services: {}\n".write(toFile: directory + "/docker-compose.override.standalone.yml", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func composesOwnErrorIsTheEvidenceAndItRunsAgainOnlyAfterTheIntervalOrAChange() async throws {
        let directory = try install()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = ComposeConfigRunner()
        runner.configOutcome = ProcessOutcome(status: 1, stdout: "",
            stderr: "services.app Additional property imagee is not allowed\n", timedOut: false)
        let clock = LockedValue(Date(timeIntervalSince1970: 1_796_000_000))
        let compose = ComposeProject(project: "qfieldcloud", directory: directory, dockerSocket: "/fake/\(UUID().uuidString)", runner: runner)
        let probe = ComposeProbe(compose: compose, interval: 3600, now: { clock.value })

        let finding = try #require(await probe.collect().findings.first)
        #expect(finding.code == "compose.invalid")
        #expect(finding.subject == "compose")
        #expect(finding.message.contains("services.app Additional property imagee is not allowed"))
        #expect(finding.evidence["compose_error"] == "services.app Additional property imagee is not allowed")
        let run = try #require(runner.configRuns.first)
        #expect(run.executable == "docker" && run.arguments == ["compose", "config", "-q"])
        #expect(run.workingDirectory == directory)

        clock.value = clock.value.addingTimeInterval(600)
        #expect(await probe.collect().findings.count == 1)
        #expect(runner.configRuns.count == 1, "not again within the hour")

        // The operator fixes an override file: checked at once.
        runner.configOutcome = ProcessOutcome(status: 0, stdout: "", stderr: "", timedOut: false)
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: directory + "/docker-compose.override.standalone.yml")
        #expect(await probe.collect().findings.isEmpty)
        #expect(runner.configRuns.count == 2)

        clock.value = clock.value.addingTimeInterval(3600)
        _ = await probe.collect()
        #expect(runner.configRuns.count == 3, "and hourly")
    }

    @Test func withoutComposeTheProbeSaysItCouldNotLookAndDoesNotAskAgainEveryCycle() async throws {
        let directory = try install()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = CountingRunner()
        let clock = LockedValue(Date(timeIntervalSince1970: 1_796_000_000))
        let compose = ComposeProject(project: "qfieldcloud", directory: directory, dockerSocket: "/fake/\(UUID().uuidString)", runner: runner)
        let probe = ComposeProbe(compose: compose, interval: 86_400, now: { clock.value })
        let result = await probe.collect()
        #expect(result.findings.isEmpty)
        #expect(result.error?.contains("compose") == true)
        let asked = runner.count
        #expect(asked == 2, "docker compose version, then docker-compose version")
        clock.value = clock.value.addingTimeInterval(60)
        #expect(await probe.collect().error == result.error, "still could not look")
        #expect(runner.count == asked, "no compose detection on every cycle")
        clock.value = clock.value.addingTimeInterval(86_400)
        _ = await probe.collect()
        #expect(runner.count == asked + 2, "again after the interval")
    }

    /// The compose programs are watched too: an upgrade (a new mtime) runs the check again.
    @Test func theComposeProgramsOnPathAndThePluginDirectoriesAreWatched() {
        let paths = ComposeProbe.programPaths(path: "/usr/local/bin:/usr/bin:relative")
        #expect(paths.contains("/usr/bin/docker-compose") && paths.contains("/usr/local/bin/docker"))
        #expect(paths.contains("/usr/libexec/docker/cli-plugins/docker-compose"))
        #expect(!paths.contains { $0.hasPrefix("relative") })
    }
}
