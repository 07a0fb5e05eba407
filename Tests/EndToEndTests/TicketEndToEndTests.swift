import Crypto
import GRDB
import Foundation
import Testing
@testable import Shared

/// The ticket loop with the real binaries: the real agent on the testbed, the coordinator
/// talking to a fake GitHub over HTTP (real request and response shapes), webhook deliveries
/// signed for real.
extension SharedTestbed {
@Suite(.serialized) struct TicketEndToEndTests {
    let env: TestEnvironment

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
        // Jobs other suites left in the queue would be findings of their own here.
        _ = try env.psql("DELETE FROM core_job")
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/github").path
    static let secret = "webhook-secret-for-tests"

    struct Setup {
        let h: Harness
        let github: FakeGitHub
        let webhookPort: Int
    }

    /// Coordinator with `[github]` on the fake, the testbed agent enrolled and reporting.
    /// `predict`: the `[predict]` section; off by default so that the watcher's own tickets do
    /// not race the issue under test.
    func start(_ github: FakeGitHub, poll: String = "1s", webhook: Bool = true, extra: String = "", mode: String = "fix",
               predict: String = "enabled = false", disks: String? = nil, reportInterval: String = "30s",
               agentEnvironment: [String: String] = [:], settle: String = "2s", agentConfig: String? = nil) throws -> Setup {
        let h = try Harness()
        try h.initCoordinator()
        let port = try Harness.freePort()
        try SecretFile.write("ghp_TESTTOKEN0123456789abcdefghijklmnopqr\n", to: h.root + "/github.token")
        try SecretFile.write(Self.secret + "\n", to: h.root + "/webhook.secret")
        var text = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "mode = \"fix\"", with: "mode = \"\(mode)\"")
        if webhook { text = text.replacingOccurrences(of: "# webhook = \"127.0.0.1:8091\"", with: "webhook = \"127.0.0.1:\(port)\"") }
        text += """

            [github]
            repo = "\(github.repository)"
            api_url = "\(github.baseURL)"
            token_file = "\(h.root)/github.token"
            poll_interval = "\(poll)"
            approvers = ["alice"]
            mentions = ["oncall"]
            \(webhook ? "webhook_secret_file = \"\(h.root)/webhook.secret\"" : "")

            [guardrails]
            command_timeout = "60s"
            \(extra)

            [predict]
            \(predict)
            """
        try text.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        try h.coordinator(["check-config"]).expectSuccess("check-config with [github]")
        try h.startCoordinator()
        try h.enrollAgent("vps-1")
        try h.writeAgentConfig("vps-1", agentConfig ?? env.agentConfig(interval: reportInterval, disks: disks, settle: settle))
        try h.startAgent("vps-1", environment: agentEnvironment)
        try h.waitUntil("the first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
        return Setup(h: h, github: github, webhookPort: port)
    }

    /// POSTs a webhook delivery built from the real payload fixture, signed with `secret`.
    @discardableResult
    func deliver(_ s: Setup, event: String, fixture: String, delivery: String = UUID().uuidString, secret: String = secret,
                 edit: (inout [String: Any]) -> Void) throws -> HTTPResponse {
        var payload = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/webhooks/\(fixture).json"))) as! [String: Any]
        var repository = payload["repository"] as! [String: Any]
        repository["full_name"] = s.github.repository
        payload["repository"] = repository
        edit(&payload)
        let body = try JSONSerialization.data(withJSONObject: payload)
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        let signature = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        return try CurlHTTPClient().perform(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(s.webhookPort)/github/webhook",
            headers: [("Content-Type", "application/json"), ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
                      ("X-Hub-Signature-256", signature), ("User-Agent", "GitHub-Hookshot/test")],
            body: body, timeout: 30))
    }

    func issuePayload(_ github: FakeGitHub, _ number: Int) -> (inout [String: Any]) -> Void {
        let issue = github.issue(number)!
        return { payload in
            var object = payload["issue"] as! [String: Any]
            object["number"] = number
            object["title"] = issue.title
            object["body"] = issue.body ?? ""
            object["labels"] = issue.labels.map { ["name": $0] }
            object["state"] = "open"
            payload["issue"] = object
        }
    }

    func tickets(_ h: Harness) throws -> [[String: Any]] {
        try h.operatorJSON("/operator/tickets?all=1") as? [[String: Any]] ?? []
    }

    func report(_ github: FakeGitHub, _ number: Int) -> String {
        github.comments(number).first { $0.body.contains("<!-- fieldmedic:report") }?.body ?? ""
    }

    @Test func aKilledWorkerReportedByWebhookIsRestartedVerifiedAndClosed() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "0s")
            let killed = Date()
            try env.docker(["kill"] + env.containerIDs("worker_wrapper", all: false))
            let number = github.createIssue(title: "Jobs are not processing", body: "QField sync stuck since 10:00", author: "fieldcrew")

            // A bad signature is refused and nothing is stored.
            let forged = try deliver(s, event: "issues", fixture: "issues.opened", secret: "wrong", edit: issuePayload(github, number))
            #expect(forged.status == 401)
            #expect(try tickets(s.h).isEmpty)

            let delivery = UUID().uuidString
            let opened = Date()
            let accepted = try deliver(s, event: "issues", fixture: "issues.opened", delivery: delivery, edit: issuePayload(github, number))
            #expect(accepted.status == 202, "\(accepted.bodyText)")
            let again = try deliver(s, event: "issues", fixture: "issues.opened", delivery: delivery, edit: issuePayload(github, number))
            #expect(again.bodyText.contains("duplicate"))

            try s.h.waitUntil("the issue is closed as resolved", timeout: 120) { github.issue(number)?.state == "closed" }
            print("killed worker: intake → closed in \(String(format: "%.1f", Date().timeIntervalSince(opened)))s (\(String(format: "%.1f", Date().timeIntervalSince(killed)))s after the kill)")
            let issue = try #require(github.issue(number))
            #expect(issue.stateReason == "completed")
            #expect(issue.labels.contains("fieldmedic:resolved"))
            let body = report(github, number)
            #expect(body.contains("start_service(container=") && body.contains("service=worker_wrapper)"), "\(body)")
            #expect(body.contains("Resolved"))
            #expect(github.comments(number).filter { $0.body.contains("<!-- fieldmedic:report") }.count == 1)
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "running")
            #expect(try tickets(s.h).count == 1)
            // Every request carried the API headers and the token never left in a body.
            for request in github.requests {
                #expect(request.header("X-GitHub-Api-Version") == "2022-11-28")
                #expect(!request.bodyText.contains("ghp_TESTTOKEN"))
            }
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let audit = try s.h.auditActions()
            #expect(audit.contains("ticket.resolved") && audit.contains("ticket.published"))
        }
    }

    /// Issue 11's target, with the agent's default settle: one killed replica of two is
    /// started alone, verified and the issue closed; the other replica keeps its StartedAt.
    /// Then the settled fleet stays still: no audit rows, no GitHub calls, little CPU.
    @Test func oneKilledReplicaOfTwoIsStartedAloneAndTheSettledFleetStaysStill() async throws {
        try env.compose(["up", "-d", "--no-recreate", "--scale", "worker_wrapper=2", "worker_wrapper"])
        defer { _ = try? env.compose(["up", "-d", "--scale", "worker_wrapper=1", "worker_wrapper"]) }
        try env.waitUntil("two worker replicas run", timeout: 60) { try env.containerIDs("worker_wrapper", all: false).count == 2 }
        let replicas = try env.containerIDs("worker_wrapper").sorted { try env.inspect($0, "{{.Name}}") < env.inspect($1, "{{.Name}}") }
        let (healthy, killed) = (replicas[0], replicas[1])
        let healthyStart = try env.inspect(healthy, "{{.State.StartedAt}}")
        let killedName = String(try env.inspect(killed, "{{.Name}}").drop { $0 == "/" })
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "0s", settle: "5s")
            try env.docker(["kill", killed])
            let number = github.createIssue(title: "Packages are not being generated since yesterday", author: "fieldcrew")
            let opened = Date()
            let accepted = try deliver(s, event: "issues", fixture: "issues.opened", edit: issuePayload(github, number))
            #expect(accepted.status == 202)
            try s.h.waitUntil("the issue is closed as resolved", timeout: 60) { github.issue(number)?.state == "closed" }
            print("one killed replica of two (settle 5s): intake → closed in \(String(format: "%.1f", Date().timeIntervalSince(opened)))s")
            #expect(try env.inspect(killed, "{{.State.Status}}") == "running")
            #expect(try env.inspect(healthy, "{{.State.StartedAt}}") == healthyStart, "the healthy replica was not touched")
            let body = report(github, number)
            #expect(body.contains("start_service(container=\(killedName), service=worker_wrapper)"), "\(body)")
            #expect(!body.contains("restart_service"), "no restart of the service")
            #expect(body.contains("`\(killedName)` (worker_wrapper) | exited, exit 137"), "before/after names the replica that exited: \(body)")

            // Settled: a minute and a report cycle with nothing to do changes nothing.
            let audit = try s.h.auditActions().count
            let calls = github.requests.count
            let pid = try #require(s.h.coordinatorPID)
            let cpu0 = try Self.cpuSeconds(pid)
            let until = Date().addingTimeInterval(40)
            while Date() < until {
                #expect(github.requests.count == calls, "no GitHub call while nothing happens")
                if github.requests.count != calls { break }
                try await Task.sleep(for: .seconds(1))  // the observation window's tick, not a synchronisation
            }
            #expect(try s.h.auditActions().count == audit, "no audit row while nothing happens")
            print("settled fleet: coordinator CPU \(String(format: "%.2f", try Self.cpuSeconds(pid) - cpu0)) s in 40 s; 0 GitHub calls, 0 audit rows")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
        }
    }

    /// utime + stime of a process, in seconds (clock ticks of 100 Hz, as Linux reports them).
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        return (Double(fields[11]) ?? 0) / 100 + (Double(fields[12]) ?? 0) / 100
    }

    @Test func aProblemReportWithNothingWrongStaysOpenAndAStatusRequestCloses() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "1s", webhook: false)
            let problem = github.createIssue(title: "Sync not working for our crew", author: "fieldcrew")
            let status = github.createIssue(title: "Please check qfield status", author: "fieldcrew")
            try s.h.waitUntil("both tickets finish", timeout: 90) {
                github.issue(status)?.state == "closed" && github.issue(problem)?.labels.contains("fieldmedic:escalated") == true
            }
            #expect(github.issue(problem)?.state == "open")
            #expect(report(github, problem).contains("no finding on the host explains it"))
            #expect(report(github, problem).contains("@oncall"))
            #expect(github.issue(status)?.labels.contains("fieldmedic:healthy") == true)
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
        }
    }

    @Test func anApprovalByCommentRunsTheGuardedFix() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "1s", webhook: false, mode: "propose")
            try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
            let number = github.createIssue(title: "worker down", author: "fieldcrew")
            try s.h.waitUntil("approval is asked", timeout: 60) { github.issue(number)?.labels.contains("fieldmedic:awaiting-approval") == true }
            let body = report(github, number)
            let hash = try #require(body.range(of: "/fieldmedic approve ").map { String(body[$0.upperBound...].prefix(12)) })
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "exited", "nothing ran before the approval")
            github.addComment(issue: number, body: "/fieldmedic approve \(hash)", author: "mallory")
            github.addComment(issue: number, body: "/fieldmedic approve \(hash)", author: "alice", association: "MEMBER")
            try s.h.waitUntil("the approved fix resolves it", timeout: 90) { github.issue(number)?.state == "closed" }
            #expect(github.comments(number).contains { $0.body.contains("@mallory") && $0.body.contains("only the configured approvers") })
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "running")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let audit = try s.h.auditActions()
            #expect(audit.contains("ticket.approved") && audit.contains("ticket.command_refused"))
        }
    }

    @Test func aCoordinatorKilledMidFixResumesWithExactlyOneFix() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            // The agent holds each command for 3 s, so the coordinator dies while the fix runs.
            let s = try start(github, poll: "1s", webhook: false, agentEnvironment: ["FIELDMEDIC_AGENT_TEST_HOLD_COMMAND": "3s"])
            try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
            let number = github.createIssue(title: "worker down", author: "fieldcrew")
            try s.h.waitUntil("the fix is under way", timeout: 60) {
                try tickets(s.h).first?["state"] as? String == "fixing"
            }
            try s.h.stop("coordinator", signal: SIGKILL)
            try s.h.startCoordinator()
            try s.h.waitUntil("the resumed ticket closes", timeout: 120) { github.issue(number)?.state == "closed" }
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let database = try SQLiteCoordinatorTestReader(path: s.h.dataDir + "/coordinator.sqlite3")
            #expect(try database.count("SELECT COUNT(*) FROM commands WHERE kind = 'start_service'") == 1)
            #expect(github.comments(number).filter { $0.body.contains("<!-- fieldmedic:report") }.count == 1)
        }
    }

    @Test func githubFailingForAWhileDelaysTheTicketButLosesNothing() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "1s", webhook: false)
            let number = github.createIssue(title: "Please check qfield status", author: "fieldcrew")
            github.injectFault(.serverError(500), count: 12)
            github.injectFault(.tooManyRequests(retryAfter: 2), count: 2)
            try s.h.waitUntil("the ticket completes after the outage", timeout: 120) { github.issue(number)?.state == "closed" }
            #expect(github.issue(number)?.labels.contains("fieldmedic:healthy") == true)
            #expect(try tickets(s.h).count == 1)
            #expect(s.h.log("coordinator").contains("will retry") || s.h.log("coordinator").contains("will try again"))
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
        }
    }

    @Test func aDenialAndAnUnansweredApprovalEscalateAndNothingRuns() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "1s", webhook: false, extra: "approval_timeout = \"8s\"", mode: "propose")
            try env.docker(["stop", "-t", "1"] + env.containerIDs("worker_wrapper"))
            let denied = github.createIssue(title: "worker down", author: "fieldcrew")
            let ignored = github.createIssue(title: "jobs stuck", author: "fieldcrew")
            try s.h.waitUntil("both ask for approval", timeout: 60) {
                [denied, ignored].allSatisfy { github.issue($0)?.labels.contains("fieldmedic:awaiting-approval") == true }
            }
            github.addComment(issue: denied, body: "/fieldmedic deny", author: "alice", association: "MEMBER")
            try s.h.waitUntil("both are escalated", timeout: 60) {
                [denied, ignored].allSatisfy { github.issue($0)?.labels.contains("fieldmedic:escalated") == true }
            }
            #expect(report(github, denied).contains("@alice denied"))
            #expect(report(github, ignored).contains("Approval timed out"))
            #expect([denied, ignored].allSatisfy { github.issue($0)?.state == "open" })
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "exited", "nothing ran")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let database = SQLiteCoordinatorTestReader(path: s.h.dataDir + "/coordinator.sqlite3")
            #expect(try database.count("SELECT COUNT(*) FROM commands WHERE kind != 'diagnose'") == 0)
        }
    }

    @Test func theOperatorCommandsWorkAgainstARunningCoordinator() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "1s", webhook: false)
            let pause = try s.h.coordinator(["pause", "--reason", "upgrading docker"])
            try pause.expectSuccess("pause")
            #expect(pause.stdout.contains("pause: by operator"))
            try s.h.coordinator(["resume"]).expectSuccess("resume")
            let silence = try s.h.coordinator(["silence", "vps-1", "--finding", "disk.high", "--for", "2h", "--reason", "resizing"])
            try silence.expectSuccess("silence")
            let list = try s.h.coordinator(["silences"])
            #expect(list.stdout.contains("disk.high") && list.stdout.contains("resizing"))
            try s.h.coordinator(["unsilence", "1"]).expectSuccess("unsilence")
            #expect(try s.h.coordinator(["silences"]).stdout.contains("No active silences"))
            let bad = try s.h.coordinator(["silence", "vps-1", "--for", "soon"])
            #expect(bad.status == 2, "\(bad.stderr)")
            let opened = try s.h.coordinator(["tickets", "open", "Please check qfield status"])
            try opened.expectSuccess("tickets open")
            try s.h.waitUntil("the ticket is healthy", timeout: 30) {
                try s.h.coordinator(["tickets", "list", "--all", "--json"]).stdout.contains("\"healthy\"")
            }
            let stats = try s.h.coordinator(["stats"])
            try stats.expectSuccess("stats")
            #expect(stats.stdout.contains("healthy: 1"))
            let host = try s.h.coordinator(["hosts", "show", "vps-1"])
            try host.expectSuccess("hosts show")
            #expect(host.stdout.contains("last 24 h (one bar per hour)"), "\(host.stdout)")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let audit = try s.h.auditActions()
            for action in ["fixes.paused", "fixes.resumed", "silence.created", "silence.ended"] { #expect(audit.contains(action), "\(action)") }
        }
    }

    /// The real agent watches a small real filesystem that this test fills at a steady rate:
    /// the coordinator's prediction opens a GitHub issue itself, prunes before the threshold,
    /// verifies, reports and closes it.
    @Test func aSteadyFillIsPredictedAndPrunedBeforeTheThreshold() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let mount = NSTemporaryDirectory() + "fm-fill-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            let mounted = try env.run("mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", mount], check: false)
            guard mounted.status == 0 else {
                throw HarnessError("mounting a 32 MiB tmpfs at \(mount) failed (the test needs root, as CI runs it): \(mounted.stderr)")
            }
            defer { _ = try? env.run("umount", ["-l", mount], check: false); try? FileManager.default.removeItem(atPath: mount) }
            // Start from a known engine: what earlier tests left dangling is pruned now, so the
            // ticket's prune has a predictable plan (its verification is tested elsewhere).
            _ = try env.docker(["image", "prune", "-f"], check: false)
            let s = try start(github, poll: "1s", webhook: false, predict: """
                disk_window = "20s"
                disk_horizon = "10m"
                disk_free_below = 40
                hold = "3s"
                evaluate_every = "1s"
                min_points = 6
                persist_reports = 100
                """, disks: mount, reportInterval: "1s")
            // 0.75 % of the filesystem a second, in a thread of its own, until told to stop.
            let stop = AbortFlag()
            let chunk = Data(repeating: 0x5a, count: 32 * 1024 * 1024 * 3 / 400)
            let filler = Thread {
                var n = 0
                while !stop.isSet {
                    FileManager.default.createFile(atPath: mount + "/fill-\(n)", contents: chunk)
                    n += 1
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            filler.start()
            defer { stop.set() }
            func usedPercent() -> Double {
                var st = statvfs()
                guard statvfs(mount, &st) == 0, st.f_blocks > 0 else { return 0 }
                return 100 * Double(st.f_blocks - st.f_bavail) / Double(st.f_blocks)
            }
            var usedAtOpen: Double?
            var number: Int?
            try s.h.waitUntil("the prediction opens an issue", timeout: 150) {
                number = github.issuesSnapshot().first { $0.labels.contains("fieldmedic:proactive") }?.number
                if number != nil, usedAtOpen == nil { usedAtOpen = usedPercent() }
                return number != nil
            }
            do {
                try s.h.waitUntil("the proactive issue closes", timeout: 90) { github.issue(number!)?.state == "closed" }
            } catch {
                for t in try tickets(s.h) {
                    let detail = try s.h.operatorJSON("/operator/tickets/\(t["id"] ?? 0)") as? [String: Any]
                    print("TICKET \(t["id"] ?? 0): \(detail?["report"] ?? "")")
                }
                throw error
            }
            let usedAtClose = usedPercent()
            stop.set()
            print("disk.full_predicted: issue opened at \(String(format: "%.1f", usedAtOpen ?? -1)) % used, closed (pruned, verified) at \(String(format: "%.1f", usedAtClose)) %")
            #expect((usedAtOpen ?? 100) > 60, "not before free space is under 40 %")
            #expect(usedAtClose < 90, "the fix ran before the 90 % threshold")
            let issue = try #require(github.issue(number!))
            #expect(issue.title.contains("disk.full_predicted"))
            #expect(issue.labels.contains("fieldmedic:resolved"))
            let body = report(github, number!)
            #expect(body.contains("prune_docker"), "\(body)")
            #expect(body.contains("eta_full_s"))
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
        }
    }

    /// Not an assertion on time: prints intake → closing comment, split into phases from the
    /// ticket's own timeline, for docs/benchmarks.md (`scripts/bench-tickets.sh` runs only this).
    @Test func benchmarkIntakeToClosingComment() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github, poll: "0s")
            func run(_ title: String, kill: Bool) throws -> [String: Double] {
                if kill { try env.docker(["kill"] + env.containerIDs("worker_wrapper", all: false)) }
                try s.h.waitUntil("the agent sees the worker state", timeout: 30) { true }
                let number = github.createIssue(title: title, author: "fieldcrew")
                let t0 = Date()
                try deliver(s, event: "issues", fixture: "issues.opened", edit: issuePayload(github, number))
                try s.h.waitUntil("#\(number) closes", timeout: 60) { github.issue(number)?.state == "closed" }
                let total = Date().timeIntervalSince(t0)
                let list = try tickets(s.h)
                let id = try #require(list.first { $0["issue"] as? Int == number }?["id"] as? Int)
                let detail = try s.h.operatorJSON("/operator/tickets/\(id)") as? [String: Any]
                let timeline = ((detail?["ticket"] as? [String: Any])?["timeline"] as? [[String: Any]]) ?? []
                func at(_ prefix: String) -> Double? {
                    guard let entry = timeline.first(where: { ($0["text"] as? String)?.hasPrefix(prefix) == true }),
                          let text = entry["at"] as? String, let date = WireDate.parse(text) else { return nil }
                    return date.timeIntervalSince(t0)
                }
                var phases: [String: Double] = ["total": total]
                phases["received"] = at("Received")
                phases["diagnosed"] = at("Diagnosis:")
                phases["fixed"] = at("start_service(container=")
                phases["verified"] = at("Verified") ?? at("Healthy")
                return phases
            }
            var status: [[String: Double]] = []
            for i in 0..<5 { status.append(try run("Please check qfield status \(i)", kill: false)) }
            var killed: [[String: Double]] = []
            for i in 0..<3 {
                killed.append(try run("Jobs not processing \(i)", kill: true))
                try env.restore()
            }
            func median(_ rows: [[String: Double]], _ key: String) -> String {
                let values = rows.compactMap { $0[key] }.sorted()
                guard !values.isEmpty else { return "—" }
                return String(format: "%.2f s", values[values.count / 2])
            }
            print("BENCH tickets: phase (median, seconds after the webhook was sent) | status request (n=5) | killed worker (n=3)")
            for key in ["received", "diagnosed", "fixed", "verified", "total"] {
                print("BENCH tickets: \(key) | \(median(status, key)) | \(median(killed, key))")
            }
            #expect(status.count == 5 && killed.count == 3)
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
        }
    }
}
}

/// Read-only SQL on the coordinator's database (WAL: also while it runs).
struct SQLiteCoordinatorTestReader {
    let path: String
    func count(_ sql: String) throws -> Int {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in try Int.fetchOne(db, sql: sql) ?? -1 }
    }
    func strings(_ sql: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in try String.fetchAll(db, sql: sql) }
    }
}
