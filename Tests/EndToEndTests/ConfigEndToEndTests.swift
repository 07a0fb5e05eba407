import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// The install's own files, as the agent reads them: a bad `.env` in the testbed's install
/// directory is named by file and line; a compose file compose rejects is reported with
/// compose's own words. Both files are put back afterwards.
@Suite(.serialized) struct ConfigEndToEndTests {
    let env: TestEnvironment

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
    }

    /// Runs `fieldmedic-agent diagnose --local --json` against the testbed.
    func diagnose() throws -> HealthReport {
        let h = try Harness()
        let path = h.root + "/agent.toml"
        try ("name = \"testbed\"\n[coordinator]\nurl = \"https://ops:8443\"\n" + env.agentConfig()).write(toFile: path, atomically: true, encoding: .utf8)
        let output = try h.run(Harness.agentBinary, ["diagnose", "--local", "--json", "--config", path])
        try output.expectSuccess("diagnose --local --json")
        return try WireCodec.decodeStored(HealthReport.self, from: Data(output.stdout.utf8))
    }

    @Test func aBadEnvIsNamedByFileAndLineWithWhatToWrite() throws {
        let envPath = env.testbedDir + "/.env"
        let original = try String(contentsOfFile: envPath, encoding: .utf8)
        defer { try? AtomicFile.write(Data(original.utf8), to: envPath) }
        #expect(try diagnose().findings.filter { $0.code == "config.invalid" }.isEmpty, "the testbed's own .env is clean")

        var lines = original.components(separatedBy: "\n")
        let hostLine = try #require(lines.firstIndex { $0.hasPrefix("QFIELDCLOUD_HOST=") })
        lines[hostLine] = "QFIELDCLOUD_HOST=LocalHost"
        lines.append("QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=http://app:8000/api/v1/")
        try AtomicFile.write(Data(lines.joined(separator: "\n").utf8), to: envPath)

        let findings = try diagnose().findings.filter { $0.code == "config.invalid" }
        let host = try #require(findings.first { $0.subject == ".env QFIELDCLOUD_HOST" })
        #expect(host.message.hasPrefix("\(envPath):\(hostLine + 1): QFIELDCLOUD_HOST=LocalHost has capitals"), "\(host.message)")
        #expect(host.evidence["write"] == "QFIELDCLOUD_HOST=localhost")
        let worker = try #require(findings.first { $0.subject == ".env QFIELDCLOUD_WORKER_QFIELDCLOUD_URL" })
        #expect(worker.message.hasPrefix("\(envPath):\(lines.count): DEBUG=0"), "\(worker.message)")
        #expect(worker.evidence["write"]?.hasPrefix("QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=https://localhost/api/v1/") == true)
    }

    @Test func aComposeFileComposeRejectsIsComposeInvalidWithComposesOwnError() async throws {
        let envPath = env.testbedDir + "/.env"
        let brokenPath = env.testbedDir + "/docker-compose.broken.yml"
        let original = try String(contentsOfFile: envPath, encoding: .utf8)
        defer {
            try? AtomicFile.write(Data(original.utf8), to: envPath)
            unlink(brokenPath)
        }
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: SubprocessRunner())
        let clean = await ComposeProbe(compose: compose, interval: 3600).collect()
        #expect(clean.error == nil && clean.findings.isEmpty, "the testbed's own files are valid: \(clean)")

        // An override with a misspelt key, added to COMPOSE_FILE as an operator would.
        try "version: \"2.4\"\nservices:\n  app:\n    imagee: fieldmedic/busybox:test\n".write(toFile: brokenPath, atomically: true, encoding: .utf8)
        try AtomicFile.write(Data(original.replacingOccurrences(of: "COMPOSE_FILE=docker-compose.yml", with: "COMPOSE_FILE=docker-compose.yml:docker-compose.broken.yml").utf8), to: envPath)
        let result = await ComposeProbe(compose: compose, interval: 3600).collect()
        let finding = try #require(result.findings.first, "\(result)")
        #expect(finding.code == "compose.invalid")
        #expect(finding.evidence["compose_error"]?.contains("imagee") == true, "\(finding.evidence)")
        #expect(finding.message.contains("imagee"))
    }
}
}
