import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct EnvironmentLintTests {
    static let good = """
        COMPOSE_FILE=docker-compose.yml:docker-compose.override.standalone.yml
        COMPOSE_PATH_SEPARATOR=:
        DEBUG=0
        QFIELDCLOUD_HOST=qfield.example.org
        QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=https://qfield.example.org/api/v1/
        NGINX_ALLOW_INTERNAL_HTTP=1
        WEB_HTTP_PORT=80
        WEB_HTTPS_PORT=443
        """

    @Test func aProductionEnvHasNoProblems() {
        #expect(EnvironmentLint.check(Self.good).isEmpty)
    }

    @Test func anUppercaseHostIsNamedWithItsLineAndTheLowercaseToWrite() throws {
        let text = Self.good.replacingOccurrences(of: "QFIELDCLOUD_HOST=qfield.example.org", with: "QFIELDCLOUD_HOST=QField.Example.org")
        let problem = try #require(EnvironmentLint.check(text).first)
        #expect(problem.line == 4)
        #expect(problem.key == "QFIELDCLOUD_HOST")
        #expect(problem.what.contains("capitals"))
        #expect(problem.write == "QFIELDCLOUD_HOST=qfield.example.org")
    }

    @Test func aHostWithSchemePortOrPathIsJustTheName() throws {
        let problem = try #require(EnvironmentLint.check("QFIELDCLOUD_HOST=\"https://qfield.example.org:8443/\"\n").first)
        #expect(problem.line == 1)
        #expect(problem.what.contains("a scheme") && problem.what.contains("a port") && problem.what.contains("a path"))
        #expect(problem.write == "QFIELDCLOUD_HOST=qfield.example.org")
        #expect(EnvironmentLint.check("QFIELDCLOUD_HOST=\n").first?.what.contains("empty") == true)
    }

    @Test func developmentAndTestOverridesInComposeFileAreNamed() throws {
        let text = "# comment\n\nCOMPOSE_FILE=docker-compose.yml:docker-compose.override.local.yml:docker-compose.override.test.yml\n"
        let problem = try #require(EnvironmentLint.check(text).first)
        #expect(problem.line == 3)
        #expect(problem.what.contains("docker-compose.override.local.yml, docker-compose.override.test.yml"))
        #expect(problem.write == "COMPOSE_FILE=docker-compose.yml")
        #expect(EnvironmentLint.check("COMPOSE_FILE=docker-compose.yml;docker-compose.override.standalone.yml\n").isEmpty)
    }

    @Test func debugOffWithTheWorkerCallingTheAppDirectlyIsNamed() throws {
        let text = """
            DEBUG=0
            QFIELDCLOUD_HOST=qfield.example.org
            QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=http://app:8000/api/v1/
            """
        let problem = try #require(EnvironmentLint.check(text).first)
        #expect(problem.line == 3)
        #expect(problem.what.contains("line 1"))
        #expect(problem.what.contains("500"))
        #expect(problem.write.hasPrefix("QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=https://qfield.example.org/api/v1/"))
        #expect(EnvironmentLint.check(text.replacingOccurrences(of: "DEBUG=0", with: "DEBUG=1")).isEmpty, "development mode serves files itself")
    }

    @Test func portsMustBePortsAndDiffer() {
        let bad = EnvironmentLint.check("WEB_HTTP_PORT=eighty\nWEB_HTTPS_PORT=70000\n")
        #expect(bad.map(\.line) == [1, 2])
        #expect(bad.map(\.write) == ["WEB_HTTP_PORT=80", "WEB_HTTPS_PORT=443"])
        let same = EnvironmentLint.check("WEB_HTTP_PORT=8080\nWEB_HTTPS_PORT=8080\n")
        #expect(same.map(\.line) == [2])
    }

    @Test func aKeySetTwiceNamesTheLineComposeUses() {
        let problems = EnvironmentLint.check("QFIELDCLOUD_HOST=a.example.org\nDEBUG=1\nQFIELDCLOUD_HOST=b.example.org\n")
        #expect(problems.map(\.line) == [3])
        #expect(problems.first?.what.contains("first on line 1") == true)
        // Values never leave .env: a key set twice may be SECRET_KEY or a password.
        let secret = EnvironmentLint.check("SECRET_KEY=first-secret-value\nSECRET_KEY=second-secret-value\n")
        #expect(secret.map(\.line) == [2])
        #expect(!secret.contains { ($0.what + $0.write).contains("secret-value") }, "\(secret)")
    }
}

@Suite struct ConfigProbeTests {
    @Test func findingsNameFileAndLineAndTheFileIsReadOnlyWhenItChanges() async throws {
        let directory = NSTemporaryDirectory() + "fm-env-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "DEBUG=0\nQFIELDCLOUD_HOST=QField.example.org\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        let clock = LockedValue(Date(timeIntervalSince1970: 1_796_000_000))
        let probe = ConfigProbe(directory: directory, interval: 300, now: { clock.value })
        let first = await probe.collect()
        let finding = try #require(first.findings.first)
        #expect(finding.code == "config.invalid")
        #expect(finding.subject == ".env QFIELDCLOUD_HOST")
        #expect(finding.message.hasPrefix("\(directory)/.env:2: QFIELDCLOUD_HOST=QField.example.org has capitals"))
        #expect(finding.message.hasSuffix("write QFIELDCLOUD_HOST=qfield.example.org"))

        // Fixed, but looked at again only after the interval.
        try "DEBUG=0\nQFIELDCLOUD_HOST=qfield.example.org\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        clock.value = clock.value.addingTimeInterval(60)
        #expect(await probe.collect().findings.count == 1)
        clock.value = clock.value.addingTimeInterval(300)
        #expect(await probe.collect().findings.isEmpty)
    }

    @Test func aMissingEnvSaysItCouldNotLook() async {
        let result = await ConfigProbe(directory: "/nonexistent/install", interval: 0).collect()
        #expect(result.findings.isEmpty)
        #expect(result.error?.contains("/nonexistent/install/.env") == true)
        #expect(result.fix?.contains("[compose] directory") == true)
    }
}
