import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Coordinator
@testable import Shared

/// The dashboard through its router: sign-in, sessions, CSRF, roles, and that a web approval
/// is the same record a `/fieldmedic approve` comment writes.
// @unchecked: a test drives its fixture from one task at a time; the router closures only read it.
final class WebFixture: @unchecked Sendable {
    let tickets: TicketFixture
    let dashboard: WebDashboard
    let metrics = CoordinatorMetrics()
    static let password = "correct horse battery staple"

    init(loginAttempts: Int = 5, metricsToken: Secret? = nil, proxyUserHeader: String? = nil, trustedProxies: [String] = []) async throws {
        tickets = try await TicketFixture(mode: .propose)
        let config = WebConfig(listen: ListenAddress(host: "127.0.0.1", port: 0), tls: false, sessionLifetime: 3600, loginAttempts: loginAttempts,
                               loginWindow: 900, metricsTokenFile: nil, proxyUserHeader: proxyUserHeader, trustedProxies: trustedProxies)
        dashboard = try WebDashboard(
            engine: tickets.engine, store: tickets.fleet.store, config: config, offlineAfter: 180, mentions: [], metricsToken: metricsToken,
            metrics: metrics, paths: nil, logger: tickets.logger)
        for (name, role) in [("vera", WebRole.viewer), ("alice", .approver), ("root", .admin)] {
            // Cost 4 keeps the tests fast; the cost is part of the hash, so verify still works.
            try await store.saveWebUser(
                WebUser(name: name, role: role, passwordHash: try WebPassword.hash(Secret(Self.password), cost: 4), createdAt: now, updatedAt: now),
                audit: AuditEntry(actor: "test", action: "web.user_added", subject: "web:\(name)"))
        }
    }

    var store: SQLiteCoordinatorStore { tickets.fleet.store }
    var now: Date { tickets.fleet.clock.now() }

    /// A ticket on vps-1 whose plan waits for an approval.
    func awaitingTicket() async throws -> Ticket {
        var ticket = Ticket(source: .finding, title: "worker_wrapper is down on vps-1", body: "", author: "fieldmedic", now: now)
        ticket.host = "vps-1"
        ticket.state = .awaitingApproval
        let plan = Plan(steps: [PlanStep(action: "restart_service", params: ["service": "worker_wrapper"], policy: .approve, finding: "service.down", subject: "worker_wrapper")], manual: [])
        ticket.plan = plan
        ticket.approval = Approval(planHash: plan.hash, requestedAt: now)
        ticket.targets = [TicketFixture.down("worker_wrapper")]
        return try await store.insertTicket(ticket, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket")).ticket
    }
}

/// A browser's cookie jar and the page's CSRF token, for one signed-in person.
struct WebClientSession {
    var cookie: String
    var csrf: String

    var headers: HTTPFields { [.cookie: "\(WebSessionMiddleware.cookieName)=\(cookie)", .contentType: "application/x-www-form-urlencoded"] }
}

enum WebTest {
    static func cookie(_ name: String, in response: TestResponse) -> String? {
        for line in response.headers[values: .setCookie] {
            let first = line.split(separator: ";")[0]
            if first.hasPrefix(name + "=") { return String(first.dropFirst(name.count + 1)) }
        }
        return nil
    }

    static func csrf(_ body: String) -> String? {
        guard let range = body.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression) else { return nil }
        return String(body[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        ByteBuffer(string: fields.map { "\($0.key)=\(HTML.queryEscape($0.value))" }.joined(separator: "&"))
    }

    /// Signs in through the login form; nil when refused.
    static func signIn(_ client: some TestClientProtocol, _ name: String, password: String = WebFixture.password) async throws -> WebClientSession? {
        let page = try await client.execute(uri: "/login", method: .get)
        let loginCookie = try #require(cookie(WebDashboard.loginCookieName, in: page))
        let token = try #require(csrf(String(buffer: page.body)))
        let answer = try await client.execute(
            uri: "/login", method: .post,
            headers: [.cookie: "\(WebDashboard.loginCookieName)=\(loginCookie)", .contentType: "application/x-www-form-urlencoded"],
            body: form(["csrf": token, "name": name, "password": password, "next": "/"]))
        guard answer.status == .seeOther, let session = cookie(WebSessionMiddleware.cookieName, in: answer), !session.isEmpty else { return nil }
        let fleet = try await client.execute(uri: "/", method: .get, headers: [.cookie: "\(WebSessionMiddleware.cookieName)=\(session)"])
        return WebClientSession(cookie: session, csrf: try #require(csrf(String(buffer: fleet.body))))
    }
}

@Suite struct WebDashboardTests {
    /// oauth2-proxy in front: its header signs a person in, from a trusted address only, as
    /// the account of that name (role and all); the sign-in is audited and starts an ordinary
    /// session, so forms still need their CSRF token. Over a real socket: the peer is 127.0.0.1.
    @Test func aTrustedProxysUserHeaderSignsInItsAccountAndAnUntrustedOneIsIgnored() async throws {
        let f = try await WebFixture(proxyUserHeader: "X-Forwarded-User", trustedProxies: ["127.0.0.1", "::1"])
        try await Application(router: f.dashboard.makeRouter()).test(.live) { client in
            let page = try await client.execute(uri: "/", method: .get, headers: [HTTPField.Name("X-Forwarded-User")!: "alice"])
            #expect(page.status == .ok)
            let cookie = try #require(WebTest.cookie(WebSessionMiddleware.cookieName, in: page))
            #expect(!cookie.isEmpty && String(buffer: page.body).contains("alice"))
            let login = try await f.store.recentAudit(matching: "web.login", limit: 5).first
            #expect(login?.actor == "web:alice" && login?.details.contains("proxy header") == true, "\(String(describing: login))")
            // The session is the proxy's person: another name in the header ends it.
            let other = try await client.execute(uri: "/", method: .get, headers: [
                .cookie: "\(WebSessionMiddleware.cookieName)=\(cookie)", HTTPField.Name("X-Forwarded-User")!: "vera"])
            #expect(other.status == .ok && WebTest.cookie(WebSessionMiddleware.cookieName, in: other) != cookie)
            // A name without an account is refused, not signed in.
            let stranger = try await client.execute(uri: "/", method: .get, headers: [HTTPField.Name("X-Forwarded-User")!: "mallory"])
            #expect(stranger.status == .forbidden && String(buffer: stranger.body).contains("users add"))
        }
        let untrusted = try await WebFixture(proxyUserHeader: "X-Forwarded-User", trustedProxies: ["192.0.2.10"])
        try await Application(router: untrusted.dashboard.makeRouter()).test(.live) { client in
            let page = try await client.execute(uri: "/", method: .get, headers: [HTTPField.Name("X-Forwarded-User")!: "alice"])
            #expect(page.status == .seeOther && page.headers[.location]?.hasPrefix("/login") == true, "a header from anyone else counts for nothing")
        }
    }

    @Test func signingInSetsAStrictHttpOnlyCookieAndEveryPageRenders() async throws {
        let f = try await WebFixture()
        let ticket = try await f.awaitingTicket()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let page = try await client.execute(uri: "/login", method: .get)
            let loginCookie = try #require(WebTest.cookie(WebDashboard.loginCookieName, in: page))
            let token = try #require(WebTest.csrf(String(buffer: page.body)))
            let answer = try await client.execute(
                uri: "/login", method: .post,
                headers: [.cookie: "\(WebDashboard.loginCookieName)=\(loginCookie)", .contentType: "application/x-www-form-urlencoded"],
                body: WebTest.form(["csrf": token, "name": "vera", "password": WebFixture.password, "next": "/tickets"]))
            #expect(answer.status == .seeOther)
            #expect(answer.headers[.location] == "/tickets")
            let setCookie = try #require(answer.headers[values: .setCookie].first { $0.hasPrefix(WebSessionMiddleware.cookieName + "=") })
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(!setCookie.contains("Secure"), "plain HTTP listener")
            let session = try #require(WebTest.cookie(WebSessionMiddleware.cookieName, in: answer))
            for path in ["/", "/fleet/live", "/hosts/vps-1", "/tickets", "/tickets?all=1&state=awaiting_approval&priority=P1&host=vps-1",
                         "/tickets/\(ticket.id)", "/tickets/\(ticket.id)/live", "/approvals", "/audit", "/audit?q=web", "/audit/export", "/silences"] {
                let response = try await client.execute(uri: path, method: .get, headers: [.cookie: "\(WebSessionMiddleware.cookieName)=\(session)"])
                #expect(response.status == .ok, "\(path): \(response.status)")
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true, "\(path)")
                let timing = try #require(response.headers[WebSecurityHeadersMiddleware.serverTiming], "\(path): Server-Timing")
                #expect(timing.range(of: #"^app;dur=[0-9]+\.[0-9]{2}$"#, options: .regularExpression) != nil, "\(path): \(timing)")
            }
            let fleet = try await client.execute(uri: "/", method: .get, headers: [.cookie: "\(WebSessionMiddleware.cookieName)=\(session)"])
            let html = String(buffer: fleet.body)
            #expect(html.contains("href=\"/hosts/vps-1\""))
            #expect(html.contains("href=\"/tickets/\(ticket.id)\""))
            #expect(!html.contains("<script>"), "no inline script")
            let audit = try await f.store.recentAudit(matching: "web.login", limit: 5)
            #expect(audit.first?.actor == "web:vera")
        }
    }

    @Test func textFromAgentsAndIssuesIsEscaped() async throws {
        let f = try await WebFixture()
        var draft = Ticket(source: .github, title: "<script>alert(1)</script> & \"quotes\"", body: "", author: "mallory", now: f.now)
        draft.host = "vps-1"
        let ticket = try await f.store.insertTicket(draft, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket")).ticket
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let me = try #require(try await WebTest.signIn(client, "vera"))
            for path in ["/tickets", "/tickets/\(ticket.id)"] {
                let html = String(buffer: try await client.execute(uri: path, method: .get, headers: me.headers).body)
                #expect(!html.contains("<script>alert(1)"), "\(path)")
                #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"), "\(path)")
            }
        }
    }

    @Test func aWrongPasswordIsRefusedAndRepeatedFailuresAreRateLimited() async throws {
        let f = try await WebFixture(loginAttempts: 3)
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            for _ in 0..<3 { #expect(try await WebTest.signIn(client, "alice", password: "wrong password!!") == nil) }
            // Over the limit even the right password is refused, with 429 and Retry-After.
            let page = try await client.execute(uri: "/login", method: .get)
            let answer = try await client.execute(
                uri: "/login", method: .post,
                headers: [.cookie: "\(WebDashboard.loginCookieName)=\(WebTest.cookie(WebDashboard.loginCookieName, in: page)!)", .contentType: "application/x-www-form-urlencoded"],
                body: WebTest.form(["csrf": WebTest.csrf(String(buffer: page.body))!, "name": "alice", "password": WebFixture.password]))
            #expect(answer.status == .tooManyRequests)
            #expect(answer.headers[.retryAfter] != nil)
            #expect(WebTest.cookie(WebSessionMiddleware.cookieName, in: answer) == nil)
            // The address is over its limit too: another name from it is refused without a check.
            #expect(try await WebTest.signIn(client, "vera") == nil)
            #expect(try await f.store.recentAudit(matching: "web.login_failed", limit: 10).count == 3)
            #expect(try await f.store.recentAudit(matching: "web.login_throttled", limit: 10).count == 2)
        }
    }

    @Test func theLoginFormNeedsItsOwnCSRFToken() async throws {
        let f = try await WebFixture()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let answer = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: WebTest.form(["csrf": "guess", "name": "alice", "password": WebFixture.password]))
            #expect(answer.status == .forbidden)
        }
    }

    @Test func anApproverApprovesThePlanWithTheSameRecordAsAGitHubCommand() async throws {
        let f = try await WebFixture()
        let ticket = try await f.awaitingTicket()
        let hash = ticket.plan!.hash
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let vera = try #require(try await WebTest.signIn(client, "vera"))
            let refused = try await client.execute(uri: "/tickets/\(ticket.id)/approve", method: .post, headers: vera.headers,
                                                   body: WebTest.form(["csrf": vera.csrf, "plan": hash]))
            #expect(refused.status == .forbidden, "a viewer cannot approve")
            let alice = try #require(try await WebTest.signIn(client, "alice"))
            let noToken = try await client.execute(uri: "/tickets/\(ticket.id)/approve", method: .post, headers: alice.headers,
                                                   body: WebTest.form(["plan": hash]))
            #expect(noToken.status == .forbidden, "no CSRF token")
            let otherToken = try await client.execute(uri: "/tickets/\(ticket.id)/approve", method: .post, headers: alice.headers,
                                                      body: WebTest.form(["csrf": vera.csrf, "plan": hash]))
            #expect(otherToken.status == .forbidden, "another session's token")
            let stale = try await client.execute(uri: "/tickets/\(ticket.id)/approve", method: .post, headers: alice.headers,
                                                 body: WebTest.form(["csrf": alice.csrf, "plan": "deadbeefdeadbeef"]))
            #expect(stale.status == .conflict, "an approval is bound to the plan hash")
            #expect(try await f.store.ticket(id: ticket.id)?.approval?.approvedBy == nil)
            let approved = try await client.execute(uri: "/tickets/\(ticket.id)/approve", method: .post, headers: alice.headers,
                                                    body: WebTest.form(["csrf": alice.csrf, "plan": hash]))
            #expect(approved.status == .seeOther)
            let stored = try #require(try await f.store.ticket(id: ticket.id))
            #expect(stored.approval?.approvedBy == "web:alice")
            let rows = try await f.store.recentAudit(matching: "ticket.approved", limit: 5)
            #expect(rows.count == 1)
            #expect(rows.first?.actor == "web:alice")
            #expect(rows.first?.details.contains(hash) == true)
        }
    }

    @Test func pauseNeedsAConfirmationAndAReasonAndIsAudited() async throws {
        let f = try await WebFixture()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let alice = try #require(try await WebTest.signIn(client, "alice"))
            let unconfirmed = try await client.execute(uri: "/pause", method: .post, headers: alice.headers,
                                                       body: WebTest.form(["csrf": alice.csrf, "reason": "maintenance"]))
            #expect(unconfirmed.status == .badRequest)
            #expect(try await f.store.control("pause") == nil)
            let paused = try await client.execute(uri: "/pause", method: .post, headers: alice.headers,
                                                  body: WebTest.form(["csrf": alice.csrf, "reason": "maintenance window", "confirm": "yes"]))
            #expect(paused.status == .seeOther)
            #expect(try await f.store.control("pause")?.contains("web:alice") == true)
            let fleet = String(buffer: try await client.execute(uri: "/", method: .get, headers: alice.headers).body)
            #expect(fleet.contains("Fixes are paused fleet-wide"))
            let resumed = try await client.execute(uri: "/resume", method: .post, headers: alice.headers, body: WebTest.form(["csrf": alice.csrf]))
            #expect(resumed.status == .seeOther)
            #expect(try await f.store.control("pause") == nil)
            let actions = try await f.store.recentAudit(matching: "fixes.", limit: 5).map { "\($0.actor) \($0.action)" }
            #expect(actions == ["web:alice fixes.resumed", "web:alice fixes.paused"])
        }
    }

    @Test func silencesAreCreatedAndExpired() async throws {
        let f = try await WebFixture()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let alice = try #require(try await WebTest.signIn(client, "alice"))
            let bad = try await client.execute(uri: "/silences", method: .post, headers: alice.headers,
                                               body: WebTest.form(["csrf": alice.csrf, "host": "vps-1", "duration": "forever", "reason": "x"]))
            #expect(bad.status == .badRequest)
            let made = try await client.execute(uri: "/silences", method: .post, headers: alice.headers,
                                                body: WebTest.form(["csrf": alice.csrf, "host": "vps-1", "finding": "disk.high", "duration": "2h", "reason": "resizing"]))
            #expect(made.status == .seeOther)
            let silence = try #require(try await f.store.silences(activeAt: f.now).first)
            #expect(silence.createdBy == "web:alice")
            #expect(silence.finding == "disk.high")
            let expired = try await client.execute(uri: "/silences/\(silence.id)/expire", method: .post, headers: alice.headers,
                                                   body: WebTest.form(["csrf": alice.csrf]))
            #expect(expired.status == .seeOther)
            #expect(try await f.store.silences(activeAt: f.now).isEmpty)
        }
    }

    @Test func aRemovedAccountIsSignedOutAtItsNextRequest() async throws {
        let f = try await WebFixture()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let vera = try #require(try await WebTest.signIn(client, "vera"))
            #expect(try await client.execute(uri: "/", method: .get, headers: vera.headers).status == .ok)
            #expect(try await f.store.removeWebUser(named: "vera", audit: AuditEntry(actor: "test", action: "web.user_removed", subject: "web:vera")))
            let after = try await client.execute(uri: "/", method: .get, headers: vera.headers)
            #expect(after.status == .seeOther)
            #expect(after.headers[.location]?.hasPrefix("/login") == true)
        }
    }

    @Test func signingOutEndsTheSession() async throws {
        let f = try await WebFixture()
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let vera = try #require(try await WebTest.signIn(client, "vera"))
            #expect(try await client.execute(uri: "/logout", method: .post, headers: vera.headers, body: WebTest.form(["csrf": vera.csrf])).status == .seeOther)
            #expect(try await client.execute(uri: "/", method: .get, headers: vera.headers).status == .seeOther)
        }
    }

    @Test func onlyLocalPathsAreFollowedAfterSignIn() {
        #expect(WebDashboard.safeNext("/tickets?all=1") == "/tickets?all=1")
        for hostile in ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", nil] {
            #expect(WebDashboard.safeNext(hostile) == "/")
        }
    }

    @Test func metricsAreValidTextFormatAndNeedTheTokenWhenOneIsSet() async throws {
        let f = try await WebFixture(metricsToken: Secret("0123456789abcdef-metrics"))
        _ = try await f.awaitingTicket()
        f.metrics.notification(channel: "telegram", result: "sent")
        f.metrics.ingest(source: "alertmanager", result: "accepted")
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong"]).status == .unauthorized)
            let answer = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer 0123456789abcdef-metrics"])
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(buffer: answer.body)
            for line in ["fieldmedic_tickets{state=\"awaiting_approval\"} 1", "fieldmedic_agents{state=\"offline\"} 1",
                         "fieldmedic_notifications_total{channel=\"telegram\",result=\"sent\"} 1",
                         "fieldmedic_alerts_ingested_total{source=\"alertmanager\",result=\"accepted\"} 1",
                         "fieldmedic_reports_rejected_total{reason=\"malformed\"} 0", "fieldmedic_circuit_breaker_open 0"] {
                #expect(text.contains(line), "missing \(line)")
            }
            #expect(text.contains("# TYPE fieldmedic_report_handling_seconds histogram"))
            #expect(text.contains("fieldmedic_build_info{version="))
        }
    }

    @Test func aSparklineIsNumbersOnlyAndEscapesItsLabel() {
        let now = 1_000_000.0
        let points = (0..<500).map { (t: now - 86_400 + Double($0) * 170, v: Double($0 % 50)) }
        let svg = SVGSparkline.render(points, from: now - 86_400, to: now, label: "Disk </svg><script>")
        #expect(svg.hasPrefix("<svg class=\"spark\""))
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("&lt;/svg&gt;"))
        let coordinates = svg.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0].split(separator: " ")
        #expect(coordinates.count <= SVGSparkline.width)
        #expect(SVGSparkline.render([], from: 0, to: 1, label: "x") == "no data")
    }
}
