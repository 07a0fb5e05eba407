import Foundation
import Testing
@testable import Shared

/// The dashboard and /metrics with the real binaries: a real browser (Debian's chromium and
/// chromedriver, driven by Selenium from the test venv) approves a killed worker's plan and
/// watches the ticket resolve; a real Prometheus scrapes /metrics; promtool checks the
/// exposition and the shipped rule file.
extension SharedTestbed {
@Suite(.serialized) struct DashboardEndToEndTests {
    let env: TestEnvironment

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
        _ = try env.psql("DELETE FROM core_job")
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let password = "a long enough test password"
    static let metricsToken = "metrics-token-for-the-tests-0123"
    static var python: String {
        (ProcessInfo.processInfo.environment["FIELDMEDIC_TEST_VENV"] ?? "/var/cache/fieldmedic-test/venv") + "/bin/python3"
    }

    /// Where screenshots go: the run directory of scripts/test.sh (kept after the run).
    static func outputDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["FIELDMEDIC_TESTENV_DIR"] ?? NSTemporaryDirectory()
        let dir = base + "/dashboard-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func requireTool(_ path: String, _ package: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is missing: install Debian's \(package) (scripts/install-deps.sh does)")
        }
    }

    /// Runs a program with `input` on standard input and `environment` added.
    static func run(_ binary: String, _ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> CommandOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let (stdin, stdout) = (Pipe(), Pipe())
        // Standard error to a file, so that neither pipe can fill and block the program.
        let errPath = NSTemporaryDirectory() + "fieldmedic-run-\(UUID().uuidString).err"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { unlink(errPath) }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandOutput(arguments: arguments, status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                             stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// A coordinator with the dashboard on `webPort`, /metrics behind a token, accounts
    /// alice (approver) and vera (viewer).
    func coordinator(_ github: FakeGitHub?, webPort: Int, mode: String = "propose", tls: Bool = false) throws -> Harness {
        let h = try Harness()
        try h.initCoordinator()
        try SecretFile.write("ghp_TESTTOKEN0123456789abcdefghijklmnopqr\n", to: h.root + "/github.token")
        try SecretFile.write(Self.metricsToken + "\n", to: h.root + "/metrics.token")
        var text = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "mode = \"fix\"", with: "mode = \"\(mode)\"")
        text = text.replacingOccurrences(of: "# web = \"127.0.0.1:8081\"", with: "web = \"127.0.0.1:\(webPort)\"")
        text += "\n[web]\nmetrics_token_file = \"\(h.root)/metrics.token\"\nlive_refresh = \"1s\"\n" + (tls ? "tls = true\n" : "")
        if let github {
            text += """

                [github]
                repo = "\(github.repository)"
                api_url = "\(github.baseURL)"
                token_file = "\(h.root)/github.token"
                poll_interval = "1s"
                approvers = ["alice"]

                [guardrails]
                command_timeout = "60s"

                [predict]
                enabled = false
                """
        }
        try text.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        let check = try h.coordinator(["check-config"])
        try check.expectSuccess("check-config with [listen] web")
        #expect(check.stdout.contains("dashboard: \(tls ? "https" : "http")://127.0.0.1:\(webPort), /metrics with a bearer token"))
        for (name, role) in [("alice", "approver"), ("vera", "viewer")] {
            try Self.run(Harness.coordinatorBinary, ["users", "add", name, "--role", role, "--config", h.coordinatorConfig], input: Self.password + "\n")
                .expectSuccess("users add \(name)")
        }
        let short = try Self.run(Harness.coordinatorBinary, ["users", "add", "eve", "--role", "admin", "--config", h.coordinatorConfig], input: "short\n")
        #expect(short.status == 2 && short.stderr.contains("at least 12 characters"), "\(short.stderr)")
        let list = try h.coordinator(["users", "list"])
        #expect(list.stdout.contains("alice") && list.stdout.contains("approver") && list.stdout.contains("vera") && !list.stdout.contains("eve"))
        #expect(!list.stdout.contains("$2"), "no hash is printed")
        try h.startCoordinator()
        try h.waitUntil("the dashboard answers", timeout: 30) {
            (try? h.client().perform(HTTPRequest(url: "\(tls ? "https" : "http")://127.0.0.1:\(webPort)/login", timeout: 5)))?.status == 200
        }
        return h
    }

    @Test func anApproverApprovesAKilledWorkersPlanInARealBrowserAndTheTicketResolves() async throws {
        try Self.requireTool("/usr/bin/chromium", "chromium")
        try Self.requireTool("/usr/bin/chromedriver", "chromium-driver")
        try Self.requireTool(Self.python, "selenium in the test venv (scripts/install-deps.sh)")
        let out = try Self.outputDirectory()
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let webPort = try Harness.freePort()
            let h = try coordinator(github, webPort: webPort)
            try h.enrollAgent("vps-1")
            try h.writeAgentConfig("vps-1", env.agentConfig(interval: "30s", settle: "2s"))
            try h.startAgent("vps-1")
            try h.waitUntil("the first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
            _ = try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
            let number = github.createIssue(title: "worker down", author: "fieldcrew")
            try h.waitUntil("approval is asked", timeout: 60) { github.issue(number)?.labels.contains("fieldmedic:awaiting-approval") == true }
            let tickets = try h.operatorJSON("/operator/tickets") as? [[String: Any]] ?? []
            let ticket = try #require(tickets.first { ($0["issue"] as? Int) == number }?["id"] as? Int)

            let started = Date()
            let arguments: [String: Any] = [
                "base": "http://127.0.0.1:\(webPort)", "ticket": ticket, "out": out, "approver": "alice", "viewer": "vera",
                "password": Self.password, "timeout": 150,
            ]
            let result = try Self.run(
                Self.python, [Self.repo.appendingPathComponent("Tests/browser/dashboard_flow.py").path],
                environment: ["FIELDMEDIC_BROWSER_ARGS": String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self)])
            let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let seen = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            print("dashboard browser run: \(String(format: "%.1f", Date().timeIntervalSince(started)))s, screenshots in \(out): \(line.prefix(600))")
            #expect(result.status == 0, "selenium: \(result.stderr.suffix(2000)) \(line.prefix(4000))")
            #expect(seen["viewer_sees_approve_button"] as? Bool == false)
            #expect(seen["viewer_post_status"] as? Int == 403, "a viewer's hand-made approval")
            #expect((seen["no_csrf_page"] as? String)?.hasPrefix("403") == true)
            #expect((seen["fleet_ticket_link"] as? [String])?.contains { $0.hasPrefix("#\(ticket) ") } == true)
            #expect((seen["notice"] as? String)?.contains("approved") == true)
            #expect((seen["timeline"] as? String)?.contains("Approved by @web:alice") == true)
            #expect(seen["same_page"] as? Bool == true, "the ticket page updated itself without a reload")
            #expect((seen["phone_scroll_width"] as? Int ?? 10_000) <= 420, "the fleet page fits a phone's width")
            #expect(seen["stale_at_once"] as? Bool == false, "one failed ask is not yet stale")
            #expect((seen["stale_text"] as? String)?.contains("stale: the coordinator did not answer") == true, "\(seen["stale_text"] ?? "")")
            #expect(seen["fresh_again"] as? Bool == true && seen["same_fleet_page"] as? Bool == true, "the notice goes once an ask succeeds, without a reload")
            for file in ["fleet-desktop.png", "fleet-phone.png", "approvals-desktop.png", "ticket-resolved-desktop.png", "ticket-resolved-phone.png", "fleet-stale-desktop.png"] {
                #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
            }
            try h.waitUntil("the approved fix closes the issue", timeout: 60) { github.issue(number)?.state == "closed" }
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "running")
            try h.stopAgent("vps-1")
            try h.stopCoordinator()
            let audit = try h.auditActions()
            #expect(audit.contains("web.login") && audit.contains("ticket.approved") && audit.contains("web.user_added"))
        }
    }

    @Test func aRealPrometheusScrapesMetricsAndPromtoolAcceptsTheMetricsAndTheRules() async throws {
        try Self.requireTool("/usr/bin/prometheus", "prometheus")
        try Self.requireTool("/usr/bin/promtool", "prometheus")
        let webPort = try Harness.freePort()
        let h = try coordinator(nil, webPort: webPort, mode: "fix")
        try h.enrollAgent("vps-1")
        try h.writeAgentConfig("vps-1", env.agentConfig(interval: "30s"))
        try h.startAgent("vps-1")
        try h.waitUntil("the first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }

        let metricsURL = "http://127.0.0.1:\(webPort)/metrics"
        #expect(try CurlHTTPClient().perform(HTTPRequest(url: metricsURL)).status == 401, "the token is required")
        let scrape = try CurlHTTPClient().perform(HTTPRequest(url: metricsURL, headers: [("Authorization", "Bearer \(Self.metricsToken)")]))
        #expect(scrape.status == 200)
        #expect(scrape.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(scrape.bodyText.contains("fieldmedic_reports_received_total 1"), "\(scrape.bodyText.prefix(3000))")
        #expect(scrape.bodyText.contains("fieldmedic_agents{state=\"online\"} 1"))
        let check = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: scrape.bodyText)
        #expect(check.status == 0, "promtool check metrics: \(check.stdout) \(check.stderr)")
        let rules = Self.repo.appendingPathComponent("docs/prometheus/fieldmedic-rules.yml").path
        let ruleCheck = try Self.run("/usr/bin/promtool", ["check", "rules", rules])
        #expect(ruleCheck.status == 0 && ruleCheck.stdout.contains("SUCCESS: 5 rules found"), "\(ruleCheck.stdout) \(ruleCheck.stderr)")

        let promPort = try Harness.freePort()
        let config = h.root + "/prometheus.yml"
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: ["\(rules)"]
            scrape_configs:
              - job_name: fieldmedic
                authorization:
                  credentials_file: \(h.root)/metrics.token
                static_configs:
                  - targets: ["127.0.0.1:\(webPort)"]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        try h.start("prometheus", "/usr/bin/prometheus", [
            "--config.file=\(config)", "--storage.tsdb.path=\(h.root)/prometheus-data", "--web.listen-address=127.0.0.1:\(promPort)",
        ])
        defer { try? h.stop("prometheus") }
        func query(_ expression: String) throws -> [[String: Any]] {
            let url = "http://127.0.0.1:\(promPort)/api/v1/query?query=" + (expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            let answer = try CurlHTTPClient().perform(HTTPRequest(url: url, timeout: 5))
            let json = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
            return (json?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        }
        try h.waitUntil("Prometheus has scraped the coordinator", timeout: 60) {
            let up = (try? query("up{job=\"fieldmedic\"}")) ?? []
            return (up.first?["value"] as? [Any])?.last as? String == "1"
        }
        let reports = try query("fieldmedic_reports_received_total")
        #expect(((reports.first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0 >= 1)
        let build = try query("fieldmedic_build_info")
        #expect((build.first?["metric"] as? [String: String])?["version"] != nil)
        let rulesAnswer = try CurlHTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:\(promPort)/api/v1/rules", timeout: 5))
        #expect(rulesAnswer.bodyText.contains("FieldMedicAgentOffline") && !rulesAnswer.bodyText.contains("\"health\":\"err\""), "\(rulesAnswer.bodyText.prefix(2000))")
        try h.stop("prometheus")
        try h.stopAgent("vps-1")
        try h.stopCoordinator()
    }

    @Test func withTLSTheDashboardUsesTheCoordinatorsCertificateAndSecureCookies() async throws {
        let webPort = try Harness.freePort()
        let h = try coordinator(nil, webPort: webPort, mode: "fix", tls: true)
        // Verified against the coordinator's own CA: the server certificate is the agents' one.
        let page = try h.client().perform(HTTPRequest(url: "https://127.0.0.1:\(webPort)/login", timeout: 10))
        #expect(page.status == 200)
        let loginCookie = try #require(page.headers.first { $0.0.lowercased() == "set-cookie" && $0.1.hasPrefix("fm_login=") }?.1)
        #expect(loginCookie.contains("Secure") && loginCookie.contains("HttpOnly") && loginCookie.contains("SameSite=Strict"), "\(loginCookie)")
        let token = String(loginCookie.dropFirst("fm_login=".count).prefix { $0 != ";" })
        let body = "csrf=\(token)&name=alice&password=\(Self.password.replacingOccurrences(of: " ", with: "+"))&next=%2F"
        let signedIn = try h.client().perform(HTTPRequest(
            method: "POST", url: "https://127.0.0.1:\(webPort)/login",
            headers: [("Cookie", "fm_login=\(token)"), ("Content-Type", "application/x-www-form-urlencoded")], body: Data(body.utf8), timeout: 10))
        #expect(signedIn.status == 303)
        let session = signedIn.headers.first { $0.0.lowercased() == "set-cookie" && $0.1.hasPrefix("fm_session=") }?.1 ?? ""
        #expect(session.contains("Secure") && session.contains("HttpOnly") && session.contains("SameSite=Strict"), "\(session)")
        // Plain HTTP on the TLS port gets no page.
        #expect((try? CurlHTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:\(webPort)/login", timeout: 5)))?.status != 200)
        try h.stopCoordinator()
    }
}
}
