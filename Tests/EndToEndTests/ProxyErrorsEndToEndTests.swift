import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// nginx's refusals as users meet them: real requests through the testbed's nginx, whose
/// access-log lines the json-file driver keeps and the probe reads back through the engine.
@Suite(.serialized) struct ProxyErrorsEndToEndTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
    }

    /// One request through nginx; a dropped connection (444) is an answer too.
    @discardableResult
    func send(_ path: String, host: String = "localhost", method: String = "GET", bodyBytes: Int = 0, origin: String? = nil) -> Int? {
        let request = HTTPRequest(
            method: method, url: "http://127.0.0.1:\(env.httpPort)\(path)", headers: [("Host", host)] + (origin.map { [("Origin", $0)] } ?? []),
            body: bodyBytes > 0 ? Data(repeating: 0x61, count: bodyBytes) : nil, timeout: 15, connectTimeout: 5)
        return try? CurlHTTPClient().perform(request).status
    }

    @Test func nginxsRefusalsBecomeProxyErrorsWithTheirFamiliesAndRates() async throws {
        let probe = ProxyErrorsProbe(engine: engine, project: env.project, host: "localhost", window: 900, errorPercent: 5, minimumErrors: 3)
        // Restore: a new nginx container starts a new log, so the agents of later tests do
        // not read these refusals as a fault of their own.
        defer { _ = try? env.run("docker-compose", ["up", "-d", "--no-deps", "--force-recreate", "nginx"]) }
        // The starting position: what earlier tests sent is read now, not counted below.
        _ = await probe.collect()

        for _ in 0..<10 { #expect(send("/api/v1/files/p1/") == 200) }
        for _ in 0..<4 { #expect(send("/api/v1/files/p1/", method: "POST", bodyBytes: 4096) == 413) }
        try env.appSlow(true)
        for _ in 0..<3 { #expect(send("/api/v1/packages/p1/latest/") == 504) }
        try env.appSlow(false)
        try env.docker(["stop", "-t", "1"] + env.containerIDs("app"))
        for _ in 0..<3 { #expect(send("/api/v1/deltas/p1/") == 502) }
        try env.docker(["start"] + env.containerIDs("app"))
        for _ in 0..<3 { #expect(send("/api/v1/status/", host: "LOCALHOST") == nil, "nginx drops a Host that is not QFIELDCLOUD_HOST") }

        var findings: [Finding] = []
        try await env.waitUntilAsync("the probe sees every refusal", timeout: 30) {
            let result = await probe.collect()
            if let error = result.error { throw HarnessError(error) }
            findings += result.findings
            let subjects = Set(findings.map(\.subject))
            return subjects.isSuperset(of: ["nginx:413", "nginx:444", "nginx:502", "nginx:504"])
        }
        func latest(_ subject: String) throws -> Finding { try #require(findings.last { $0.subject == subject }) }
        let upload = try latest("nginx:413")
        #expect(upload.code == "proxy.errors")
        #expect(upload.evidence["files_errors"] == "4")
        #expect(upload.evidence["files_requests"] == "14")
        #expect(upload.evidence["files_percent"] == "28.6")
        #expect(upload.message.contains("NGINX_CLIENT_MAX_BODY_SIZE"))
        let timeout = try latest("nginx:504")
        #expect(timeout.evidence["packages_errors"] == "3" && timeout.evidence["packages_requests"] == "3")
        #expect(timeout.message.contains("NGINX_PROXY_READ_TIMEOUT"))
        let unreachable = try latest("nginx:502")
        #expect(unreachable.evidence["deltas_errors"] == "3")
        #expect(unreachable.message.contains("docker compose ps app"))
        let dropped = try latest("nginx:444")
        #expect(dropped.evidence["status_errors"] == "3")
        #expect(dropped.message.contains("QFIELDCLOUD_HOST"))

        // Nothing new in the log: the next cycle reads no line, and counts none twice.
        _ = await probe.collect()
        #expect(probe.linesReadLastCycle == 0)
        let again = await probe.collect()
        #expect(try #require(again.findings.first { $0.subject == "nginx:413" }).evidence["files_errors"] == "4")
    }

    /// #1083, #1201: an external proxy terminates TLS and talks http to the bundled nginx, so
    /// Django sees http while the browser's Origin says https, and refuses the login form.
    @Test func djangosCSRFRefusalsBehindATLSTerminatingProxyAreCountedWithWhatToSet() async throws {
        let probe = ProxyErrorsProbe(engine: engine, project: env.project, host: "localhost", window: 900, errorPercent: 5, minimumErrors: 3)
        defer { _ = try? env.run("docker-compose", ["up", "-d", "--no-deps", "--force-recreate", "nginx"]) }
        _ = await probe.collect()

        #expect(send("/accounts/login/", method: "POST", bodyBytes: 40, origin: "http://localhost") == 200, "the origin Django sees passes")
        for _ in 0..<3 { #expect(send("/accounts/login/", method: "POST", bodyBytes: 40, origin: "https://localhost") == 403) }
        // A 403 from the API is one user's permission answer, not CSRF: not counted.
        #expect(send("/api/v1/projects/", method: "GET") == 404)

        var findings: [Finding] = []
        try await env.waitUntilAsync("the probe sees the refusals", timeout: 30) {
            let result = await probe.collect()
            if let error = result.error { throw HarnessError(error) }
            findings += result.findings
            return findings.contains { $0.subject == "nginx:403" }
        }
        let csrf = try #require(findings.last { $0.subject == "nginx:403" })
        #expect(csrf.code == "proxy.errors" && csrf.severity == .warning)
        #expect(csrf.evidence["other_errors"] == "3" && csrf.evidence["other_sample"] == "/accounts/login/")
        #expect(csrf.message.contains("X-Forwarded-Proto: https") && csrf.message.contains("CSRF_TRUSTED_ORIGINS"))
        #expect(!findings.contains { $0.subject == "nginx:404" })
    }

    @Test func anUppercaseHostPassesAsConfiguredButTheLowercasedProbeCatchesIt() async throws {
        let url = "http://127.0.0.1:\(env.httpPort)/api/v1/status/"
        // QFIELDCLOUD_HOST=LocalHost (#1829): nginx lets only that exact spelling through.
        try env.nginxHost("LocalHost")
        let broken = await StatusProbe(url: url, host: "LocalHost").collect()
        #expect(!broken.findings.contains { $0.code == "app.status_error" }, "as configured it passes: \(broken.findings)")
        let hostCase = try #require(broken.findings.first { $0.code == "proxy.errors" })
        #expect(hostCase.subject == "nginx:host_case")
        #expect(hostCase.evidence["sent_host"] == "localhost")
        #expect(hostCase.message.contains("set QFIELDCLOUD_HOST in .env to localhost"))

        try env.nginxHost(nil)
        #expect(await StatusProbe(url: url, host: "localhost").collect().findings.isEmpty)
    }
}
}
