import Crypto
import Foundation
import GRDB
import Testing
import X509
@testable import Coordinator
@testable import Shared

/// Notifications for real: libcurl against a real SMTP server process (aiosmtpd, plain and
/// STARTTLS with a test certificate and a login), fake Telegram/Slack/webhook servers that
/// answer as the real ones do, and the real coordinator binary escalating, being killed
/// with messages in its outbox and delivering them once after the restart. No testbed needed;
/// serialized with the other suites that block threads while they wait.
extension SharedTestbed {
@Suite(.serialized) struct NotifyEndToEndTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var python: String {
        ProcessInfo.processInfo.environment["FIELDMEDIC_TEST_PYTHON"] ?? "/var/cache/fieldmedic-test/venv/bin/python3"
    }

    /// Starts the SMTP sink; returns its port and the directory it writes messages to.
    func startSMTP(_ h: Harness, _ label: String, extra: [String] = []) throws -> (port: Int, out: String) {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw HarnessError("no Python with aiosmtpd at \(Self.python): run scripts/install-deps.sh (it makes the test venv)")
        }
        let port = try Harness.freePort()
        let out = h.root + "/\(label)-mail"
        try h.start(label, Self.python, [Self.repoRoot + "/Tests/fixtures/smtp/smtp_sink.py", out, String(port)] + extra)
        try h.waitUntil("the SMTP server \(label) listens", timeout: 30) {
            if h.log(label).contains("Traceback") || h.log(label).contains("ModuleNotFoundError") {
                throw HarnessError("the SMTP server did not start:\n\(h.log(label))")
            }
            return h.log(label).contains("ready \(port)")
        }
        return (port, out)
    }

    func mails(_ directory: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        return names.compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
    }

    /// Quoted-printable soft breaks removed, so long lines can be searched.
    func unfolded(_ mail: String) -> String { mail.replacingOccurrences(of: "=\r\n", with: "") }

    func message(_ title: String) -> NotificationMessage {
        NotificationMessage(events: [NotificationEvent(kind: .escalated, dedupeKey: "e2e:\(title)", ticketID: 7, host: "vps-1", title: title,
                                                       lines: ["The worker <wrapper> & co stopped.", "Ticket #7 on vps-1."], link: nil, at: Date())])
    }

    @Test func mailReachesARealSMTPServerPlainOverSTARTTLSAndSMTPSWithALogin() throws {
        let h = try Harness()
        // Plain SMTP, no login: a relay on this machine.
        let plain = try startSMTP(h, "smtp-plain")
        let relay = EmailChannel(name: "mail", smtpURL: "smtp://127.0.0.1:\(plain.port)", from: "FieldMedic <fm@example.org>",
                                 to: ["ops@example.org", "lead@example.org"], username: nil, password: nil, starttls: false, caFile: nil)
        try relay.send(message("Escalated: worker down on vps-1"))
        try h.waitUntil("the relay has the message", timeout: 10) { mails(plain.out).count == 1 }
        let first = unfolded(mails(plain.out)[0])
        #expect(first.contains("X-Envelope-From: fm@example.org"))
        #expect(first.contains("X-Envelope-To: ops@example.org,lead@example.org"))
        #expect(first.contains("Subject: Escalated: worker down on vps-1"))
        #expect(first.contains("The worker <wrapper> & co stopped."))
        #expect(first.contains("X-TLS: no"))

        // STARTTLS demanded, a certificate from a test CA, a login.
        let ca = try CertificateAuthority.create(commonName: "SMTP test CA")
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issueServerCertificate(names: ["127.0.0.1", "localhost"], key: key)
        try PEMFile.pem(certificate).write(toFile: h.root + "/smtp.pem", atomically: true, encoding: .utf8)
        try SecretFile.write(key.pemRepresentation, to: h.root + "/smtp.key")
        try PEMFile.pem(ca.certificate).write(toFile: h.root + "/smtp-ca.pem", atomically: true, encoding: .utf8)
        let password = "s3cret-smtp-password"
        let tls = try startSMTP(h, "smtp-tls", extra: ["--tls", h.root + "/smtp.pem", h.root + "/smtp.key", "--login", "fm@example.org", password])
        let secure = EmailChannel(name: "mail", smtpURL: "smtp://127.0.0.1:\(tls.port)", from: "fm@example.org", to: ["ops@example.org"],
                                  username: nil, password: Secret(password), starttls: true, caFile: h.root + "/smtp-ca.pem")
        try secure.send(message("Über-urgent: nginx down"))
        try h.waitUntil("the STARTTLS server has the message", timeout: 10) { mails(tls.out).count == 1 }
        let second = unfolded(mails(tls.out)[0])
        #expect(second.contains("X-TLS: yes"))
        #expect(second.contains("X-Auth: fm@example.org"))
        #expect(second.contains("Subject: =?UTF-8?B?"))

        // SMTPS: TLS from the first byte.
        let implicit = try startSMTP(h, "smtp-smtps", extra: ["--smtps", h.root + "/smtp.pem", h.root + "/smtp.key", "--login", "fm@example.org", password])
        let smtps = EmailChannel(name: "mail", smtpURL: "smtps://127.0.0.1:\(implicit.port)", from: "fm@example.org", to: ["ops@example.org"],
                                 username: nil, password: Secret(password), starttls: false, caFile: h.root + "/smtp-ca.pem")
        try smtps.send(message("Escalated: db down"))
        try h.waitUntil("the SMTPS server has the message", timeout: 10) { mails(implicit.out).count == 1 }
        #expect(unfolded(mails(implicit.out)[0]).contains("X-Auth: fm@example.org"))
        // A certificate from another CA is refused before the password is sent.
        let otherCA = try CertificateAuthority.create(commonName: "Someone else")
        try PEMFile.pem(otherCA.certificate).write(toFile: h.root + "/other-ca.pem", atomically: true, encoding: .utf8)
        let untrusted = EmailChannel(name: "mail", smtpURL: "smtps://127.0.0.1:\(implicit.port)", from: "fm@example.org", to: ["ops@example.org"],
                                     username: nil, password: Secret(password), starttls: false, caFile: h.root + "/other-ca.pem")
        do throws(DeliveryError) {
            try untrusted.send(message("never"))
            Issue.record("an untrusted certificate must fail")
        } catch {
            #expect(!error.message.contains(password))
        }
        #expect(mails(implicit.out).count == 1)

        // A wrong password: a permanent failure that does not show the password.
        let wrong = EmailChannel(name: "mail", smtpURL: "smtp://127.0.0.1:\(tls.port)", from: "fm@example.org", to: ["ops@example.org"],
                                 username: nil, password: Secret("wrong-password-xyz"), starttls: true, caFile: h.root + "/smtp-ca.pem")
        do throws(DeliveryError) {
            try wrong.send(message("never"))
            Issue.record("a wrong password must fail")
        } catch {
            #expect(error.permanent, "\(error.message)")
            #expect(!error.message.contains("wrong-password-xyz"))
        }
        // A server without STARTTLS never gets the password in the clear.
        let downgrade = EmailChannel(name: "mail", smtpURL: "smtp://127.0.0.1:\(plain.port)", from: "fm@example.org", to: ["ops@example.org"],
                                     username: nil, password: Secret(password), starttls: true, caFile: nil)
        do throws(DeliveryError) {
            try downgrade.send(message("never"))
            Issue.record("STARTTLS is demanded")
        } catch {
            #expect(error.permanent, "\(error.message)")
        }
        #expect(mails(plain.out).count == 1)
        #expect(mails(tls.out).count == 1)
    }

    @Test func telegramSlackAndWebhookChannelsTalkToServersThatAnswerLikeTheRealOnes() async throws {
        let chat = try await FakeChatServer.start()
        defer { Task { await chat.stop() } }
        let telegram = TelegramChannel(name: "tg", token: Secret(chat.botToken), chatID: "-100123213", apiURL: chat.baseURL, transport: CurlTransport())
        chat.queue(.telegram, FakeChatServer.telegramFlood(retryAfter: 3))
        do throws(DeliveryError) {
            try telegram.send(message("flooded"))
            Issue.record("429 must fail")
        } catch {
            #expect(error.retryAfter == 3)
            #expect(!error.message.contains(chat.botToken))
        }
        var long = message("long")
        long.events[0].lines = (0..<800).map { "line \($0): <b>not bold</b> & escaped" }
        try telegram.send(long)
        let sent = try #require(chat.delivered(.telegram).last?.json["text"] as? String)
        #expect(sent.utf16.count <= 4096)
        #expect(sent.contains("&lt;b&gt;not bold&lt;/b&gt; &amp; escaped"))
        #expect(sent.contains("(cut: full report"))

        let badToken = TelegramChannel(name: "tg", token: Secret("999:wrong-token-value"), chatID: "1", apiURL: chat.baseURL, transport: CurlTransport())
        do throws(DeliveryError) { try badToken.send(message("x")) } catch {
            #expect(error.permanent)
            #expect(error.message.contains("401") && error.message.contains("Unauthorized"))
            #expect(!error.message.contains("wrong-token-value"))
        }

        let slack = SlackChannel(name: "sl", webhookURL: Secret(chat.baseURL + "/services/T000/B000/XXXXSECRETXXXX"), transport: CurlTransport())
        chat.queue(.slack, .init(status: 429, body: "rate_limited", headers: [("Retry-After", "7")]))
        chat.queue(.slack, .init(status: 404, body: "channel_not_found"))
        do throws(DeliveryError) { try slack.send(message("s")) } catch { #expect(error.retryAfter == 7) }
        do throws(DeliveryError) { try slack.send(message("s")) } catch {
            #expect(error.permanent)
            #expect(error.message.contains("channel_not_found"))
            #expect(!error.message.contains("XXXXSECRETXXXX"))
        }
        try slack.send(message("slack ok"))
        #expect(chat.delivered(.slack).count == 1)

        let webhook = WebhookChannel(name: "wh", url: chat.baseURL + "/hook", secret: Secret(chat.webhookSecret), transport: CurlTransport())
        try webhook.send(message("signed"))
        #expect(chat.delivered(.webhook).count == 1, "the server checked the signature")
        let forged = WebhookChannel(name: "wh", url: chat.baseURL + "/hook", secret: Secret("not-the-secret"), transport: CurlTransport())
        do throws(DeliveryError) { try forged.send(message("forged")) } catch { #expect(error.permanent) }
        #expect(chat.delivered(.webhook).count == 1)
    }

    /// A running coordinator: an agent goes offline → an escalation reaches Telegram at once;
    /// the webhook is down, so its message waits in the outbox; the coordinator is killed
    /// (SIGKILL) and restarted with the webhook back: the message arrives exactly once.
    @Test func aKilledCoordinatorDeliversItsStoredMessageOnceAfterTheRestart() async throws {
        let chat = try await FakeChatServer.start()
        defer { Task { await chat.stop() } }
        let h = try Harness()
        try h.initCoordinator(agentsSettings: ["offline_after": "\"2s\""])
        try SecretFile.write(chat.botToken + "\n", to: h.root + "/telegram.token")
        try SecretFile.write(chat.webhookSecret + "\n", to: h.root + "/webhook.secret")
        var config = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        config += """

            [predict]
            evaluate_every = "0.3s"

            [[notify]]
            name = "ops-telegram"
            kind = "telegram"
            bot_token_file = "\(h.root)/telegram.token"
            chat_id = "-100123213"
            api_url = "\(chat.baseURL)"
            events = ["agent_offline", "agent_back"]
            min_priority = "P1"
            group_window = "0s"

            [[notify]]
            name = "bridge"
            kind = "webhook"
            url = "\(chat.baseURL)/hook"
            secret_file = "\(h.root)/webhook.secret"
            events = ["agent_offline", "agent_back"]
            group_window = "0s"

            [notify_delivery]
            backoff = "1s"
            backoff_cap = "2s"

            """
        try config.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        let check = try h.coordinator(["check-config"])
        try check.expectSuccess("check-config")
        #expect(check.stdout.contains("notify: ops-telegram (telegram, agent_back+agent_offline, P1 and above); bridge (webhook, agent_back+agent_offline, P3 and above)"), "\(check.stdout)")

        chat.setOutage(.webhook, .init(status: 503, body: "{\"error\":\"down for maintenance\"}"))
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "300ms")
        try h.startAgent("vps-1")
        try h.waitUntil("a report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
        try h.stopAgent("vps-1")

        try h.waitUntil("Telegram hears that vps-1 is offline", timeout: 30) { chat.delivered(.telegram).count >= 1 }
        let text = try #require(chat.delivered(.telegram).first?.json["text"] as? String)
        #expect(text.contains("Agent vps-1 is offline"), "\(text)")
        try h.waitUntil("the webhook was tried and refused", timeout: 30) { chat.requests.contains { $0.service == .webhook } }
        let status = try h.coordinator(["notify", "status"])
        try status.expectSuccess("notify status")
        #expect(status.stdout.contains("bridge: 1 pending, 0 sent, 0 failed"), "\(status.stdout)")
        #expect(status.stdout.contains("webhook") && status.stdout.contains("503"), "\(status.stdout)")

        // Killed with the message stored and not delivered.
        try h.stop("coordinator", signal: SIGKILL)
        chat.setOutage(.webhook, nil)
        try h.startCoordinator()
        try h.waitUntil("the webhook gets the stored message", timeout: 30) { chat.delivered(.webhook).count >= 1 }
        try h.waitUntil("notify status shows it sent", timeout: 30) {
            (try? h.coordinator(["notify", "status"]))?.stdout.contains("bridge: 0 pending, 1 sent, 0 failed") == true
        }
        let delivered = chat.delivered(.webhook)
        #expect(delivered.count == 1, "exactly once")
        let events = delivered.first?.json["events"] as? [[String: Any]]
        #expect(events?.first?["kind"] as? String == "agent_offline")
        #expect(chat.delivered(.telegram).count == 1, "Telegram's message was sent before the kill and not again")

        // The agent comes back: both channels that heard of the outage hear it is over.
        try h.startAgent("vps-1")
        try h.waitUntil("both channels hear vps-1 is back", timeout: 30) { chat.delivered(.telegram).count == 2 && chat.delivered(.webhook).count == 2 }
        #expect((chat.delivered(.telegram).last?.json["text"] as? String)?.contains("Agent vps-1 is back") == true)

        // `notify test` sends through one channel and says what failed.
        let test = try h.coordinator(["notify", "test", "ops-telegram"])
        try test.expectSuccess("notify test")
        #expect(chat.delivered(.telegram).count == 3)
        chat.queue(.telegram, .init(status: 400, body: "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}"))
        let failing = try h.coordinator(["notify", "test", "ops-telegram"])
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("ops-telegram (telegram): the test message was not delivered") && failing.stderr.contains("chat not found"), "\(failing.stderr)")
        let unknown = try h.coordinator(["notify", "test", "nope"])
        #expect(unknown.status == 2)

        // The bot token appears in no log line and no stored error.
        try h.stopCoordinator()
        #expect(!h.log("coordinator").contains(chat.botToken))
        #expect(!failing.stderr.contains(chat.botToken))
        let db = try DatabaseQueue(path: h.dataDir + "/coordinator.sqlite3")
        let errors = try await db.read { try String.fetchAll($0, sql: "SELECT COALESCE(last_error, '') FROM notify_messages") }
        #expect(!errors.joined().contains(chat.botToken))
        #expect(!errors.joined().contains(chat.webhookSecret))
    }

    /// Killed after the event is stored and routed but before any attempt (the channel's
    /// grouping window is still open): the restarted coordinator sends it, once.
    @Test func aCoordinatorKilledBeforeTheFirstAttemptDeliversOnceAfterTheRestart() async throws {
        let chat = try await FakeChatServer.start()
        defer { Task { await chat.stop() } }
        let h = try Harness()
        try h.initCoordinator(agentsSettings: ["offline_after": "\"2s\""])
        try SecretFile.write(chat.webhookSecret + "\n", to: h.root + "/webhook.secret")
        var config = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        config += """

            [predict]
            evaluate_every = "0.3s"

            [[notify]]
            name = "bridge"
            kind = "webhook"
            url = "\(chat.baseURL)/hook"
            secret_file = "\(h.root)/webhook.secret"
            events = ["agent_offline"]
            group_window = "15s"

            """
        try config.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "300ms")
        try h.startAgent("vps-1")
        try h.waitUntil("a report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
        try h.stopAgent("vps-1")
        try h.waitUntil("the offline event is stored and waits in the outbox", timeout: 30) {
            (try? h.coordinator(["notify", "status"]))?.stdout.contains("bridge: 1 pending, 0 sent, 0 failed") == true
        }
        try h.stop("coordinator", signal: SIGKILL)
        #expect(chat.requests.isEmpty, "killed before any attempt (the 15 s window was open)")
        try h.startCoordinator()
        try h.waitUntil("the webhook gets the stored message", timeout: 40) { chat.delivered(.webhook).count >= 1 }
        try h.waitUntil("notify status shows it sent", timeout: 30) {
            (try? h.coordinator(["notify", "status"]))?.stdout.contains("bridge: 0 pending, 1 sent, 0 failed") == true
        }
        #expect(chat.requests.count == 1, "exactly once")
        #expect((chat.delivered(.webhook).first?.json["events"] as? [[String: Any]])?.first?["kind"] as? String == "agent_offline")
        try h.stopCoordinator()
    }
}
}

/// The ticket loop on the testbed with a Telegram channel: the approval request arrives with
/// the plan's hash and both approve commands, and after the approved fix, the resolution.
extension SharedTestbed {
@Suite(.serialized) struct NotifyTicketEndToEndTests {
    @Test func anApprovalRequestAndTheResolutionReachTelegram() async throws {
        let tickets = try TicketEndToEndTests()
        let chat = try await FakeChatServer.start()
        defer { Task { await chat.stop() } }
        let secrets = NSTemporaryDirectory() + "fm-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        try SecretFile.write(chat.botToken, to: secrets + "/telegram.token")
        let notify = """

            [[notify]]
            name = "ops"
            kind = "telegram"
            bot_token_file = "\(secrets)/telegram.token"
            chat_id = "-100123213"
            api_url = "\(chat.baseURL)"
            events = ["awaiting_approval", "escalated", "resolved"]
            group_window = "0s"
            """
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try tickets.start(github, poll: "1s", webhook: false, extra: notify, mode: "propose")
            try tickets.env.docker(["stop", "-t", "1"] + tickets.env.containerIDs("worker_wrapper"))
            let number = github.createIssue(title: "worker down", author: "fieldcrew")
            try s.h.waitUntil("Telegram hears the approval request", timeout: 60) {
                chat.delivered(.telegram).contains { ($0.json["text"] as? String)?.contains("Waiting for approval") == true }
            }
            let body = tickets.report(github, number)
            let hash = try #require(body.range(of: "/fieldmedic approve ").map { String(body[$0.upperBound...].prefix(12)) })
            let request = try #require(chat.delivered(.telegram).first?.json["text"] as? String)
            #expect(request.contains("/fieldmedic approve \(hash)"), "\(request)")
            #expect(request.contains("fieldmedic-coordinator tickets do ") && request.contains(" approve \(hash)"), "\(request)")
            #expect(request.contains("Plan \(hash) (sha256 \(hash)"), "\(request)")
            github.addComment(issue: number, body: "/fieldmedic approve \(hash)", author: "alice", association: "MEMBER")
            try s.h.waitUntil("the approved fix resolves it", timeout: 90) { github.issue(number)?.state == "closed" }
            try s.h.waitUntil("Telegram hears it is resolved", timeout: 30) {
                chat.delivered(.telegram).contains { ($0.json["text"] as? String)?.contains("Resolved: worker down") == true }
            }
            #expect(chat.delivered(.telegram).count == 2, "one message per event: the request and the resolution")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            #expect(!s.h.log("coordinator").contains(chat.botToken))
        }
    }
}
}
