import Crypto
import Foundation
import Logging
import Testing
@testable import Coordinator
@testable import Shared

/// A channel that records what it was asked to send, and fails on demand.
final class RecordingChannel: NotificationChannel, @unchecked Sendable {
    // @unchecked: `sent` and `failures` are only touched while holding `lock`.
    let name: String
    private let lock = NSLock()
    private var _sent: [NotificationMessage] = []
    private var failures: [DeliveryError] = []

    init(name: String) { self.name = name }

    var sent: [NotificationMessage] { lock.withLock { _sent } }
    func failNext(_ error: DeliveryError, times: Int = 1) { lock.withLock { failures += Array(repeating: error, count: times) } }

    func send(_ message: NotificationMessage) throws(DeliveryError) {
        let failure: DeliveryError? = lock.withLock { failures.isEmpty ? nil : failures.removeFirst() }
        if let failure { throw failure }
        lock.withLock { _sent.append(message) }
    }
}

/// Answers HTTP requests from a list, recording each.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    // @unchecked: all state behind `lock`.
    private let lock = NSLock()
    private var answers: [HTTPResponse]
    private var _requests: [HTTPRequest] = []
    init(_ answers: [HTTPResponse]) { self.answers = answers }
    var requests: [HTTPRequest] { lock.withLock { _requests } }
    func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        _requests.append(request)
        guard !answers.isEmpty else { throw HTTPClientError(kind: .couldNotConnect, code: 7, url: request.url, detail: "Failed to connect to \(request.url)") }
        return answers.removeFirst()
    }
}

func notifyChannel(_ name: String, events: Set<NotificationEvent.Kind> = NotifyChannelConfig.defaultEvents, min: TicketPriority = .p3,
                   hosts: [String] = [], window: TimeInterval = 0) -> NotifyChannelConfig {
    NotifyChannelConfig(name: name, kind: .webhook, target: .webhook(url: "http://127.0.0.1:1/x", secretFile: "/dev/null"), events: events,
                        minPriority: min, hosts: hosts, groupWindow: window, apiURL: nil)
}

func notifyEvent(_ kind: NotificationEvent.Kind, key: String, ticket: Int64? = nil, host: String? = "vps-1", at: Date = Date()) -> NotificationEvent {
    NotificationEvent(kind: kind, dedupeKey: key, ticketID: ticket, host: host, title: "\(kind.rawValue) \(key)", lines: ["line <1> & more"], link: nil, at: at)
}

@Suite struct NotificationTextTests {
    @Test func telegramHTMLEscapesExactlyItsThreeCharacters() {
        #expect(TelegramText.escape("a<b>&c \"q\" 'x' _*[]") == "a&lt;b&gt;&amp;c \"q\" 'x' _*[]")
        let html = TelegramText.render(NotificationMessage(events: [notifyEvent(.escalated, key: "k")]))
        #expect(html.contains("<b>escalated k</b>"))
        #expect(html.contains("line &lt;1&gt; &amp; more"))
    }

    @Test func aLongTelegramMessageIsCutAtALineWithALinkToTheFullReport() {
        var long = notifyEvent(.escalated, key: "k")
        long.lines = (0..<600).map { "line \($0) with <tags> & ampersands" }
        long.link = "https://github.com/acme/ops/issues/7"
        let html = TelegramText.render(NotificationMessage(events: [long]))
        #expect(html.utf16.count <= TelegramText.limit)
        #expect(html.hasSuffix("<a href=\"https://github.com/acme/ops/issues/7\">full report</a>)"))
        #expect(html.contains("line 10 with &lt;tags&gt; &amp; ampersands"))
        #expect(!html.contains("line 599"))
        // One line longer than the limit: cut inside the text, never inside an entity.
        let one = TelegramText.cut(String(repeating: "&amp;", count: 2000), link: nil)
        #expect(one.utf16.count <= TelegramText.limit)
        #expect(one.hasPrefix("&amp;&amp;"))
        #expect(one.components(separatedBy: "…")[0].trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("&amp;"))
        // Short messages are not touched; multi-byte characters count as Telegram counts them.
        #expect(TelegramText.cut("ok", link: nil) == "ok")
        let emoji = TelegramText.cut(String(repeating: "🔥\n", count: 3000), link: nil)
        #expect(emoji.utf16.count <= TelegramText.limit)
    }

    @Test func aGroupedMessageCountsItsEvents() {
        let message = NotificationMessage(events: [notifyEvent(.escalated, key: "a"), notifyEvent(.escalated, key: "b"), notifyEvent(.agentOffline, key: "c")])
        #expect(message.subject == "FieldMedic: 3 events (2 escalated, 1 agent offline)")
        #expect(message.plainText.contains("escalated a") && message.plainText.contains("agent_offline c"))
    }
}

@Suite struct NotificationRoutingTests {
    let channels = [
        notifyChannel("all"),
        notifyChannel("urgent", min: .p0),
        notifyChannel("vps2", hosts: ["vps-2"]),
        notifyChannel("approvals", events: [.awaitingApproval]),
    ]

    @Test func routingFollowsEventPriorityAndHost() {
        let e = notifyEvent(.escalated, key: "t:1:escalated", ticket: 1, host: "vps-1")
        #expect(NotificationRouter.channels(for: e, priority: .p1, toldBefore: [], in: channels) == ["all"])
        #expect(NotificationRouter.channels(for: e, priority: .p0, toldBefore: [], in: channels) == ["all", "urgent"])
        let approval = notifyEvent(.awaitingApproval, key: "t:1:approval", ticket: 1, host: "vps-2")
        #expect(NotificationRouter.channels(for: approval, priority: .p2, toldBefore: [], in: channels) == ["all", "vps2", "approvals"])
        // Fleet-wide events (no host) pass every host filter.
        let breaker = notifyEvent(.breakerOpened, key: "breaker", host: nil)
        #expect(NotificationRouter.channels(for: breaker, priority: .p1, toldBefore: [], in: channels) == ["all", "vps2"])
        #expect(NotificationRouter.channels(for: notifyEvent(.test, key: "t"), priority: .p0, toldBefore: [], in: channels).isEmpty)
    }

    @Test func resolvedGoesOnlyToChannelsThatHeardOfTheTicket() {
        let resolved = notifyEvent(.resolved, key: "t:1:resolved", ticket: 1)
        #expect(NotificationRouter.channels(for: resolved, priority: .p1, toldBefore: [], in: channels).isEmpty)
        #expect(NotificationRouter.channels(for: resolved, priority: .p1, toldBefore: ["all", "approvals"], in: channels) == ["all"])
    }

    @Test func aChannelsOwnFailureIsReportedElsewhere() {
        let failed = NotificationEvent.notifyFailed(channel: "all", error: "x", count: 1, at: Date())
        #expect(NotificationRouter.channels(for: failed, priority: .p1, toldBefore: [], in: channels) == ["vps2"])
    }

    @Test func backoffDoublesUpToTheCapAndHonoursRetryAfter() {
        let delays = (1...10).map { NotificationRouter.backoff(attempts: $0, base: 5, cap: 600) }
        #expect(delays == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600])
        #expect(NotificationRouter.backoff(attempts: 1, base: 5, cap: 600, retryAfter: 42) == 42)
        #expect(NotificationRouter.backoff(attempts: 9, base: 5, cap: 600, retryAfter: 3) == 600)
        #expect(NotificationRouter.backoff(attempts: 1_000_000, base: 5, cap: 600) == 600)
        var config = NotifyConfig()
        config.maxAttempts = 4
        let now = Date()
        #expect(!NotificationRouter.givesUp(attempts: 3, createdAt: now, now: now, permanent: false, config: config))
        #expect(NotificationRouter.givesUp(attempts: 4, createdAt: now, now: now, permanent: false, config: config))
        #expect(NotificationRouter.givesUp(attempts: 1, createdAt: now.addingTimeInterval(-90_000), now: now, permanent: false, config: config))
        #expect(NotificationRouter.givesUp(attempts: 3, createdAt: now, now: now, permanent: true, config: config))
    }
}

@Suite struct NotificationChannelTests {
    static func fixture(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/alerts/\(name)")
        return try Data(contentsOf: url)
    }

    @Test func telegramSendsHTMLAndReadsFloodControlWithoutShowingTheToken() throws {
        let token = Secret("123456:AAE-secret-bot-token")
        let transport = ScriptedTransport([
            HTTPResponse(status: 429, headers: [], body: try Self.fixture("telegram-429.json")),
            HTTPResponse(status: 200, headers: [], body: try Self.fixture("telegram-sendMessage-ok.json")),
        ])
        let channel = TelegramChannel(name: "tg", token: token, chatID: "-100123", apiURL: "https://api.telegram.org", transport: transport)
        let message = NotificationMessage(events: [notifyEvent(.escalated, key: "k")])
        do throws(DeliveryError) {
            try channel.send(message)
            Issue.record("a 429 must fail")
        } catch {
            #expect(error.retryAfter == 5)
            #expect(!error.permanent)
            #expect(error.message.contains("429") && error.message.contains("Too Many Requests"))
            #expect(!error.message.contains(token.revealed))
        }
        try channel.send(message)
        let request = try #require(transport.requests.last)
        #expect(request.url == "https://api.telegram.org/bot\(token.revealed)/sendMessage")
        let body = try #require(try JSONSerialization.jsonObject(with: request.body ?? Data()) as? [String: Any])
        #expect(body["parse_mode"] as? String == "HTML")
        #expect(body["chat_id"] as? String == "-100123")
        #expect((body["text"] as? String)?.contains("&lt;1&gt;") == true)
    }

    @Test func telegramErrorsArePermanentOrNotAndNeverCarryTheURL() throws {
        let errors = try #require(try JSONSerialization.jsonObject(with: try Self.fixture("telegram-errors.json")) as? [String: Any])
        let token = Secret("999:tokentokentoken")
        for (status, permanent) in [(400, true), (401, true), (403, true), (500, false)] {
            let body = try JSONSerialization.data(withJSONObject: try #require(errors[String(status)]))
            let channel = TelegramChannel(name: "tg", token: token, chatID: "1", apiURL: "https://api.telegram.org",
                                          transport: ScriptedTransport([HTTPResponse(status: status, headers: [], body: body)]))
            do throws(DeliveryError) {
                try channel.send(NotificationMessage(events: [notifyEvent(.escalated, key: "k")]))
                Issue.record("\(status) must fail")
            } catch {
                #expect(error.permanent == permanent, "\(status)")
                #expect(!error.message.contains(token.revealed))
            }
        }
        // A connection failure names the redacted address, not the one with the token.
        let down = TelegramChannel(name: "tg", token: token, chatID: "1", apiURL: "https://api.telegram.org", transport: ScriptedTransport([]))
        do throws(DeliveryError) {
            try down.send(NotificationMessage(events: [notifyEvent(.escalated, key: "k")]))
        } catch {
            #expect(error.message.contains("bot[REDACTED]"), "\(error.message)")
            #expect(!error.message.contains(token.revealed))
        }
    }

    @Test func slackReadsPlainTextErrorsAndRetryAfter() throws {
        let url = Secret("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX")
        let invalid = try Self.fixture("slack-webhook-error.txt")
        let transport = ScriptedTransport([
            HTTPResponse(status: 400, headers: [("Content-Type", "text/plain")], body: invalid),
            HTTPResponse(status: 429, headers: [("Retry-After", "17")], body: Data()),
            HTTPResponse(status: 200, headers: [], body: Data("ok".utf8)),
        ])
        let channel = SlackChannel(name: "sl", webhookURL: url, transport: transport)
        let message = NotificationMessage(events: [notifyEvent(.escalated, key: "k")])
        do throws(DeliveryError) { try channel.send(message) } catch {
            #expect(error.permanent)
            #expect(error.message.contains("invalid_payload"))
            #expect(!error.message.contains("XXXXXXXXXXXXXXXX"))
        }
        do throws(DeliveryError) { try channel.send(message) } catch {
            #expect(error.retryAfter == 17)
        }
        try channel.send(message)
        let body = try #require(try JSONSerialization.jsonObject(with: transport.requests.last?.body ?? Data()) as? [String: String])
        #expect(body["text"]?.contains("*escalated k*") == true)
        #expect(body["text"]?.contains("&lt;1&gt;") == true)
    }

    @Test func theWebhookSignatureCanBeCheckedWithTheSecret() throws {
        let secret = Secret("webhook-secret-value")
        let transport = ScriptedTransport([HTTPResponse(status: 204, headers: [], body: Data())])
        let channel = WebhookChannel(name: "wh", url: "https://ntfy.example.org/fm", secret: secret, transport: transport,
                                     now: { Date(timeIntervalSince1970: 1_800_000_000) })
        let message = NotificationMessage(events: [notifyEvent(.awaitingApproval, key: "t:1:approve", ticket: 1)])
        try channel.send(message)
        let request = try #require(transport.requests.first)
        let header = { (name: String) in request.headers.first { $0.0 == name }?.1 }
        #expect(header("X-FieldMedic-Timestamp") == "1800000000")
        let body = try #require(request.body)
        let expected = HMAC<SHA256>.authenticationCode(for: Data("1800000000.".utf8) + body, using: SymmetricKey(data: Data("webhook-secret-value".utf8)))
        #expect(header("X-FieldMedic-Signature") == "sha256=" + expected.map { String(format: "%02x", $0) }.joined())
        #expect(header("X-FieldMedic-Delivery") == WebhookChannel.deliveryID(message))
        let payload = try JSONDecoder().decode(WebhookChannel.Payload.self, from: body)
        #expect(payload.events.first?.kind == "awaiting_approval")
        #expect(payload.events.first?.ticket == 1)
        #expect(!String(decoding: body, as: UTF8.self).contains(secret.revealed))
    }

    @Test func mailHeadersCannotBeInjected() {
        #expect(MailMessage.headerValue("Down\r\nBcc: evil@example.org") == "Down  Bcc: evil@example.org")
        #expect(MailMessage.headerValue("Über") == "=?UTF-8?B?" + Data("Über".utf8).base64EncodedString() + "?=")
        #expect(MailMessage.envelope("FieldMedic <fm@example.org>") == "<fm@example.org>")
        #expect(MailMessage.envelope("ops@example.org") == "<ops@example.org>")
    }
}

@Suite struct NotifyConfigTests {
    func load(_ body: String) throws -> CoordinatorConfig {
        let dir = NSTemporaryDirectory() + "fm-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/coordinator.toml"
        try "data_dir = \"\(dir)\"\n\(body)".write(toFile: file, atomically: true, encoding: .utf8)
        return try CoordinatorConfig.load(path: file)
    }

    @Test func blocksParseWithDefaults() throws {
        let config = try load("""
            [[notify]]
            name = "tg"
            kind = "telegram"
            bot_token_file = "/etc/fm/tg.token"
            chat_id = "-100"
            min_priority = "P1"

            [[notify]]
            name = "mail"
            kind = "email"
            smtp_url = "smtps://mail.example.org:465"
            from = "fm@example.org"
            to = ["ops@example.org"]
            events = ["escalated", "resolved"]
            hosts = ["vps-1"]
            group_window = "0s"

            [notify_delivery]
            max_attempts = 3
            """)
        #expect(config.notify.channels.map(\.name) == ["tg", "mail"])
        #expect(config.notify.channels[0].minPriority == .p1)
        #expect(config.notify.channels[0].events == NotifyChannelConfig.defaultEvents)
        #expect(config.notify.channels[1].events == [.escalated, .resolved])
        #expect(config.notify.channels[1].groupWindow == 0)
        #expect(config.notify.maxAttempts == 3)
    }

    @Test func errorsNameTheBlockAndItsLine() throws {
        func message(_ body: String) -> String {
            do { _ = try load(body); return "" } catch { return "\(error)" }
        }
        let missing = message("[[notify]]\nname = \"tg\"\nkind = \"telegram\"\nchat_id = \"1\"\n")
        #expect(missing.contains("[[notify]] \"tg\": a telegram channel needs bot_token_file"), "\(missing)")
        let typo = message("[[notify]]\nname = \"wh\"\nkind = \"webhook\"\nurl = \"https://x.example\"\nsecret_file = \"/s\"\nsecrt = 1\n")
        #expect(typo.contains(":7: unknown key \"secrt\""), "\(typo)")
        let kind = message("[[notify]]\nname = \"x\"\nkind = \"pager\"\n")
        #expect(kind.contains(":4: [[notify]] \"x\": kind must be one of"), "\(kind)")
        let event = message("[[notify]]\nname = \"x\"\nkind = \"slack\"\nwebhook_url_file = \"/s\"\nevents = [\"exploded\"]\n")
        #expect(event.contains("unknown event \"exploded\""), "\(event)")
        let twice = message("[[notify]]\nname = \"x\"\nkind = \"slack\"\nwebhook_url_file = \"/s\"\n[[notify]]\nname = \"x\"\nkind = \"slack\"\nwebhook_url_file = \"/s\"\n")
        #expect(twice.contains(":7:") && twice.contains("same name"), "\(twice)")
        let password = message("[[notify]]\nname = \"m\"\nkind = \"email\"\nsmtp_url = \"smtp://u:p@mail:587\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n")
        #expect(password.contains("without a user or password"), "\(password)")
        let mailAPI = message("[[notify]]\nname = \"m\"\nkind = \"email\"\napi_url = \"http://x\"\nsmtp_url = \"smtps://mail:465\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n")
        #expect(mailAPI.contains("api_url does not apply to an email channel"), "\(mailAPI)")
        let relative = message("[[notify]]\nname = \"s\"\nkind = \"slack\"\nwebhook_url_file = \"slack.url\"\n")
        #expect(relative.contains("must be an absolute path"), "\(relative)")
    }

    @Test func theShippedTemplateParsesAndMentionsEveryKey() throws {
        let template = CoordinatorConfigTemplate.render(dataDir: "/var/lib/fieldmedic-coordinator")
        for key in ["name", "kind", "events", "min_priority", "hosts", "group_window", "bot_token_file", "chat_id", "api_url", "webhook_url_file",
                    "smtp_url", "from", "to", "username", "password_file", "starttls", "ca_file", "url", "secret_file",
                    "max_attempts", "max_age", "backoff", "backoff_cap"] {
            #expect(template.contains("# \(key) = "), "\(key)")
        }
    }
}

/// The outbox with a real SQLite store: events born in the ticket write, routed, grouped,
/// deduplicated, retried.
@Suite struct NotificationOutboxTests {
    func service(_ f: TicketFixture, channels: [RecordingChannel], configs: [NotifyChannelConfig], tweak: (inout NotifyConfig) -> Void = { _ in }) -> NotificationService {
        var config = NotifyConfig()
        config.channels = configs
        tweak(&config)
        return NotificationService(outbox: f.fleet.store, tickets: f.fleet.store, wake: f.fleet.store.notifyWake, config: config,
                                   playbook: f.config.playbook, channels: Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0 as any NotificationChannel) }),
                                   clock: f.fleet.clock, logger: Logger(label: "test"))
    }

    @Test func anApprovalRequestAndAnEscalationArriveOnceEachWithThePlanAndTheApproveCommand() async throws {
        let f = try await TicketFixture(mode: .propose)
        let ops = RecordingChannel(name: "ops")
        let quiet = RecordingChannel(name: "quiet")
        let notify = service(f, channels: [ops, quiet], configs: [notifyChannel("ops"), notifyChannel("quiet", events: [.resolved])])
        f.host.findings = [TicketFixture.down("nginx")]
        let issue = f.github.open(title: "site down")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .awaitingApproval)
        try await notify.pass()
        try await notify.pass()
        #expect(ops.sent.count == 1)
        let approval = try #require(ops.sent.first?.events.first)
        let plan = try #require(t.plan)
        #expect(approval.kind == .awaitingApproval)
        #expect(approval.lines.contains { $0.contains(plan.hash) })
        #expect(approval.lines.contains("Approve on the issue: /fieldmedic approve \(plan.shortHash)"))
        #expect(approval.lines.contains("or here: fieldmedic-coordinator tickets do \(t.id) approve \(plan.shortHash)"))

        // Saving the ticket again in the same state is no new event; routing again no new message.
        try await f.fleet.store.saveTicket(t, audit: nil)
        try await notify.pass()
        #expect(ops.sent.count == 1)

        let comment = f.github.comment(on: issue.number, "/fieldmedic deny", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: comment, sender: "alice"))
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        try await notify.pass()
        #expect(ops.sent.count == 2)
        #expect(ops.sent.last?.events.map(\.kind) == [.escalated])
        #expect(ops.sent.last?.events.first?.lines.first?.contains("@alice denied") == true)
        #expect(quiet.sent.isEmpty, "resolved-only channel heard nothing")
        let status = try await f.fleet.store.outboxStatus()
        #expect(status.channels == [OutboxStatus.Counts(channel: "ops", pending: 0, sent: 2, failed: 0)])
    }

    @Test func aResolvedTicketIsToldOnlyWhereItsFaultWasTold() async throws {
        let f = try await TicketFixture()
        let ops = RecordingChannel(name: "ops")
        let notify = service(f, channels: [ops], configs: [notifyChannel("ops")])
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker is down")
        try await f.intake.poll()
        try await f.settle()
        #expect(try await f.ticket(issue: issue.number).state == .resolved)
        try await notify.pass()
        #expect(ops.sent.isEmpty, "fixed by itself without anyone being told: no 'resolved' message")
    }

    @Test func aBurstBecomesOneMessageAfterTheWindowAndNothingIsLost() async throws {
        let f = try await TicketFixture()
        let ops = RecordingChannel(name: "ops")
        let notify = service(f, channels: [ops], configs: [notifyChannel("ops", window: 10)])
        for i in 0..<120 {
            try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "burst:\(i)", at: f.fleet.clock.now()))
        }
        // The same event twice is one event.
        try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "burst:0", at: f.fleet.clock.now()))
        let wait = try await notify.pass()
        #expect(ops.sent.isEmpty, "the window is still open")
        #expect(wait > 9 && wait <= 10)
        f.fleet.clock.advance(10)
        // Each pass sends one message per channel and asks to be called again while more wait.
        var passes = 0
        while try await notify.pass() == 0 { passes += 1 }
        #expect(passes == 2)
        #expect(ops.sent.map(\.events.count) == [50, 50, 20])
        #expect(Set(ops.sent.flatMap(\.events).map(\.dedupeKey)).count == 120)
    }

    @Test func failuresBackOffThenSucceedOrFailForGoodAndAreReported() async throws {
        let f = try await TicketFixture()
        let flaky = RecordingChannel(name: "flaky")
        let other = RecordingChannel(name: "other")
        let notify = service(f, channels: [flaky, other], configs: [notifyChannel("flaky"), notifyChannel("other", events: [.notifyFailed])]) {
            $0.maxAttempts = 3
            $0.backoffBase = 5
        }
        flaky.failNext(DeliveryError(message: "server answered 500"), times: 1)
        flaky.failNext(DeliveryError(message: "Too Many Requests", retryAfter: 30), times: 1)
        try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "one", at: f.fleet.clock.now()))
        try await notify.pass()
        #expect(flaky.sent.isEmpty)
        var status = try await f.fleet.store.outboxStatus()
        #expect(status.retrying.first?.lastError == "server answered 500")
        f.fleet.clock.advance(4)
        try await notify.pass()
        #expect(flaky.sent.isEmpty, "the backoff (5 s) has not passed")
        f.fleet.clock.advance(1)
        try await notify.pass()
        #expect(flaky.sent.isEmpty, "second failure: 429")
        f.fleet.clock.advance(20)
        try await notify.pass()
        #expect(flaky.sent.isEmpty, "retry_after 30 s wins over the 10 s backoff")
        f.fleet.clock.advance(10)
        try await notify.pass()
        #expect(flaky.sent.count == 1)

        flaky.failNext(DeliveryError(message: "bad token [REDACTED]", permanent: true), times: 5)
        try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "two", at: f.fleet.clock.now()))
        for _ in 0..<3 {
            try await notify.pass()
            f.fleet.clock.advance(600)
        }
        status = try await f.fleet.store.outboxStatus()
        #expect(status.failed.map(\.lastError) == ["bad token [REDACTED]"])
        #expect(status.failed.first?.attempts == 3)
        try await notify.pass()
        #expect(other.sent.flatMap(\.events).map(\.kind) == [.notifyFailed], "the other channel was told")
        #expect(flaky.sent.count == 1, "the failure report about flaky does not go to flaky")
    }

    @Test func aRateLimitedChannelHoldsItsNewMessagesUntilTheWaitIsOver() async throws {
        let f = try await TicketFixture()
        let tg = RecordingChannel(name: "tg")
        let notify = service(f, channels: [tg], configs: [notifyChannel("tg")])
        tg.failNext(DeliveryError(message: "Too Many Requests: retry after 30", retryAfter: 30))
        try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "first", at: f.fleet.clock.now()))
        try await notify.pass()
        f.fleet.clock.advance(10)
        try await f.fleet.store.recordNotification(notifyEvent(.escalated, key: "second", at: f.fleet.clock.now()))
        let wait = try await notify.pass()
        #expect(tg.sent.isEmpty, "Telegram said wait 30 s: the new message waits too")
        #expect(wait == 20)
        f.fleet.clock.advance(20)
        try await notify.pass()
        #expect(tg.sent.map { $0.events.map(\.dedupeKey) } == [["first", "second"]])
    }

    @Test func theBreakerOpeningIsAnEventOnce() async throws {
        let f = try await TicketFixture()
        let ops = RecordingChannel(name: "ops")
        let notify = service(f, channels: [ops], configs: [notifyChannel("ops")])
        try await f.fleet.store.setControl("breaker", value: "5 failed fixes", at: f.fleet.clock.now(), audit: nil)
        try await f.fleet.store.setControl("breaker", value: "6 failed fixes", at: f.fleet.clock.now().addingTimeInterval(1), audit: nil)
        try await notify.pass()
        #expect(ops.sent.flatMap(\.events).map(\.kind) == [.breakerOpened])
        #expect(ops.sent.first?.events.first?.lines.first == "5 failed fixes")
    }
}

@Suite struct NotificationEventTests {
    func ticket(_ state: TicketState, reason: String? = nil, findingKey: String? = nil) -> Ticket {
        var t = Ticket(id: 12, source: .finding, title: "service.down on vps-1: nginx", body: "", author: "fieldmedic", now: Date(timeIntervalSince1970: 1_800_000_000))
        t.host = "vps-1"
        t.state = state
        t.reason = reason
        t.findingKey = findingKey
        return t
    }

    @Test func transitionsBecomeEventsWithOneKeyPerTicketRunAndEvent() {
        let escalated = NotificationEvent.forTicket(before: .planned, after: ticket(.escalated, reason: "No automatic fix."), at: Date())
        #expect(escalated.map(\.kind) == [.escalated])
        #expect(escalated.first?.dedupeKey == "ticket:12:run:1:escalated")
        // The same state saved again is no event.
        #expect(NotificationEvent.forTicket(before: .escalated, after: ticket(.escalated), at: Date()).isEmpty)
        // A spent budget is an escalation and its own event.
        let budget = NotificationEvent.forTicket(before: .planned, after: ticket(.escalated, reason: "Budget spent: restart_service ran 3 times on vps-1 in the last hour (limit 3); this keeps coming back and needs a person."), at: Date())
        #expect(budget.map(\.kind) == [.escalated, .budgetSpent])
        // An offline agent's ticket speaks of the agent, opened escalated and resolved when reports resume.
        let offline = NotificationEvent.forTicket(before: nil, after: ticket(.escalated, reason: "vps-1 sent no report", findingKey: "vps-1|agent.offline|vps-1"), at: Date())
        #expect(offline.map(\.kind) == [.agentOffline])
        let back = NotificationEvent.forTicket(before: .escalated, after: ticket(.resolved, findingKey: "vps-1|agent.offline|vps-1"), at: Date())
        #expect(back.map(\.kind) == [.agentBack])
        // Resolved is an event (routing sends it only where the ticket was told); a healthy status check is not.
        #expect(NotificationEvent.forTicket(before: .verifying, after: ticket(.resolved), at: Date()).map(\.kind) == [.resolved])
        #expect(NotificationEvent.forTicket(before: .diagnosing, after: ticket(.healthy), at: Date()).isEmpty)
        #expect(NotificationEvent.forTicket(before: .received, after: ticket(.diagnosing), at: Date()).isEmpty)
    }

    @Test func secretsInATicketStayOutOfTheEvent() {
        let leaky = ticket(.escalated, reason: "curl failed: Authorization: Bearer abcdefghijklmnop123456 and password=hunter2hunter2")
        let events = NotificationEvent.forTicket(before: .planned, after: leaky, at: Date())
        let text = NotificationMessage(events: events).plainText
        #expect(!text.contains("abcdefghijklmnop123456") && !text.contains("hunter2hunter2"), "\(text)")
    }

    @Test func channelsPrintNoSecret() {
        let transport = ScriptedTransport([])
        let described = [
            String(describing: TelegramChannel(name: "t", token: Secret("111:TOKENVALUE"), chatID: "1", apiURL: "https://api.telegram.org", transport: transport)),
            String(describing: SlackChannel(name: "s", webhookURL: Secret("https://hooks.slack.com/services/SECRETPATH"), transport: transport)),
            String(describing: WebhookChannel(name: "w", url: "https://x.example/h", secret: Secret("HMACKEYVALUE"), transport: transport)),
            String(describing: EmailChannel(name: "e", smtpURL: "smtps://m:465", from: "a@b", to: ["c@d"], username: nil, password: Secret("SMTPPASSWORD"),
                                            starttls: true, caFile: nil)),
        ].joined(separator: "\n")
        for secret in ["TOKENVALUE", "SECRETPATH", "HMACKEYVALUE", "SMTPPASSWORD"] { #expect(!described.contains(secret), "\(secret)") }
    }
}

@Suite struct NotifySecretFileTests {
    @Test func secretFilesMustBePrivateAndNotEmptyAndErrorsNameTheBlock() throws {
        let dir = NSTemporaryDirectory() + "fm-notify-secret-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let channel = NotifyChannelConfig(name: "ops-tg", kind: .telegram, target: .telegram(botTokenFile: dir + "/tg.token", chatID: "1"),
                                          events: NotifyChannelConfig.defaultEvents, minPriority: .p3, hosts: [], groupWindow: 0, apiURL: nil)
        func failure() -> String {
            do { _ = try NotificationChannels.make(channel); return "" } catch { return "\(error)" }
        }
        #expect(failure().contains("bot token of [[notify]] \"ops-tg\""), "\(failure())")
        try "123:abc\n".write(toFile: dir + "/tg.token", atomically: true, encoding: .utf8)
        chmod(dir + "/tg.token", 0o644)
        #expect(failure().contains("chmod 600 \(dir)/tg.token"), "\(failure())")
        try SecretFile.write("\n", to: dir + "/tg.token")
        #expect(failure().contains("[[notify]] \"ops-tg\": the bot token in \(dir)/tg.token is empty"), "\(failure())")
        try SecretFile.write("123:abc\n", to: dir + "/tg.token")
        #expect(failure() == "")
    }
}
