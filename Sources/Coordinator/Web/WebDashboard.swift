import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import Mustache
import Shared

/// The store the dashboard reads and writes through: the coordinator's, plus accounts and
/// a few bounded queries.
typealias WebStore = FullStore & DashboardStore & WebAccountStore

/// The operator's window: server-rendered pages on the web listener, every route but the
/// login page, the static files and /metrics behind `WebSessionMiddleware` on the group;
/// every form behind `WebCSRFMiddleware`; every change behind `WebRoleMiddleware(.approver)`.
/// Changes go through the same code as the CLI and `/fieldmedic` comments (`FleetControls`,
/// `TicketEngine.handle`), so they write the same audit rows, with `web:NAME` as the actor.
struct WebDashboard: Sendable {
    let engine: TicketEngine
    let store: any WebStore
    let sessions: WebSessions
    let throttle: LoginThrottle
    let offlineAfter: TimeInterval
    let mentions: [String]
    /// Secure cookies (the listener speaks TLS).
    let secureCookies: Bool
    let metricsToken: Secret?
    /// A signing-in reverse proxy's header and the addresses it is believed from.
    let proxyUserHeader: String?
    let trustedProxies: [String]
    /// Milliseconds between live refreshes (`[web] live_refresh`), written into each page.
    let liveRefreshMilliseconds: Int
    let metrics: CoordinatorMetrics
    let paths: CoordinatorPaths?
    let library: MustacheLibrary
    /// The audit chain's verdict, verified at most once a minute (a full walk of a large log
    /// on every page view would cost more than the page).
    let chainStatus = ChainStatusCache(maxAge: 60)
    let logger: Logger

    init(engine: TicketEngine, store: any WebStore, config: WebConfig, offlineAfter: TimeInterval, mentions: [String],
         metricsToken: Secret?, metrics: CoordinatorMetrics, paths: CoordinatorPaths?, logger: Logger) throws {
        self.engine = engine
        self.store = store
        self.sessions = WebSessions(lifetime: config.sessionLifetime)
        self.throttle = LoginThrottle(limit: config.loginAttempts, window: config.loginWindow)
        self.offlineAfter = offlineAfter
        self.mentions = mentions
        self.secureCookies = config.tls
        self.metricsToken = metricsToken
        self.proxyUserHeader = config.proxyUserHeader
        self.trustedProxies = config.trustedProxies
        self.liveRefreshMilliseconds = Int((config.liveRefresh * 1000).rounded())
        self.metrics = metrics
        self.paths = paths
        self.library = try WebTemplates.library()
        self.logger = logger
    }

    /// Routes that answer without a session (each guards itself: the login form with its own
    /// CSRF cookie and rate limit, /metrics with its optional bearer token).
    static let publicRoutes: Set<String> = ["GET /login", "POST /login", "GET /static/app.css", "GET /static/app.js", "GET /metrics"]

    var controls: FleetControls { FleetControls(engine: engine) }
    var clock: any WallClock { engine.clock }

    func makeRouter() -> Router<WebRequestContext> {
        let router = Router(context: WebRequestContext.self)
        router.add(middleware: WebSecurityHeadersMiddleware())
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        router.get("/static/app.css") { _, _ in Self.asset(WebTemplates.css, type: "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.asset(WebTemplates.script, type: "text/javascript; charset=utf-8") }
        router.get("/login") { request, context in try await loginPage(request, error: nil) }
        router.post("/login") { request, context in try await login(request, context) }
        router.group("/metrics").add(middleware: MetricsTokenMiddleware(token: metricsToken)).get { _, _ in
            try await metrics.refresh(store: store, now: clock.now(), offlineAfter: offlineAfter, paths: paths)
            return Response(status: .ok, headers: [.contentType: CoordinatorMetrics.contentType],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }

        // Middleware is added to a group before its routes (it wraps only routes added after it).
        var sessionMiddleware = WebSessionMiddleware(sessions: sessions, accounts: store, clock: clock)
        if let header = proxyUserHeader.flatMap({ HTTPField.Name($0) }), !trustedProxies.isEmpty {
            let secure = secureCookies
            let store = store
            sessionMiddleware.proxy = WebSessionMiddleware.ProxyUser(
                header: header, trusted: Set(trustedProxies),
                cookie: { value, maxAge in
                    Cookie(name: WebSessionMiddleware.cookieName, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
                },
                audit: { entry in try await store.appendAudit(entry) })
        }
        let signedIn = router.group().add(middleware: sessionMiddleware).add(middleware: WebCSRFMiddleware())
        signedIn.get("/") { request, context in try await fleetPage(request, context) }
        signedIn.get("/fleet/live") { request, _ in HTML.response(try await fleetTable(FleetView(request.uri.queryParameters))) }
        signedIn.get("/hosts/{name}") { request, context in try await hostPage(request, context) }
        signedIn.get("/tickets") { request, context in try await ticketsPage(request, context) }
        signedIn.get("/tickets/{id}") { request, context in try await ticketPage(request, context) }
        signedIn.get("/tickets/{id}/live") { _, context in HTML.response(try await ticketLive(try await ticket(context), now: clock.now())) }
        signedIn.get("/approvals") { request, context in try await approvalsPage(request, context) }
        signedIn.get("/audit") { request, context in try await auditPage(request, context) }
        signedIn.get("/audit/export") { _, _ in try await auditExport() }
        signedIn.get("/silences") { request, context in try await silencesPage(request, context) }
        signedIn.post("/logout") { request, _ in
            if let cookie = request.cookies[WebSessionMiddleware.cookieName]?.value { await sessions.end(cookie: cookie) }
            var response = HTML.redirect("/login")
            response.setCookie(sessionCookie("", maxAge: 0))
            return response
        }

        let approver = signedIn.group().add(middleware: WebRoleMiddleware(minimum: .approver))
        approver.post("/tickets/{id}/approve") { _, context in try await decide(context, approve: true) }
        approver.post("/tickets/{id}/deny") { _, context in try await decide(context, approve: false) }
        approver.post("/pause") { _, context in
            let session = try context.signedIn
            let host = context.form["host"].flatMap { $0.isEmpty ? nil : $0 }
            guard context.form["confirm"] == "yes" else { throw WebError(.badRequest, "Tick the confirmation box to pause fixes.") }
            guard let reason = context.form["reason"]?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
                throw WebError(.badRequest, "Say why fixes are paused (the reason goes into the audit log).")
            }
            try await fleetError { try await controls.pause(host: host, reason: String(reason.prefix(500)), actor: session.actor) }
            return HTML.redirect(host.map { "/hosts/\(HTML.queryEscape($0))?notice=paused" } ?? "/?notice=paused")
        }
        approver.post("/resume") { _, context in
            let session = try context.signedIn
            let host = context.form["host"].flatMap { $0.isEmpty ? nil : $0 }
            try await fleetError { try await controls.resume(host: host, actor: session.actor) }
            return HTML.redirect(host.map { "/hosts/\(HTML.queryEscape($0))?notice=resumed" } ?? "/?notice=resumed")
        }
        approver.post("/silences") { _, context in
            let session = try context.signedIn
            guard let host = context.form["host"], !host.isEmpty else { throw WebError(.badRequest, "Choose a host.") }
            guard let seconds = context.form["duration"].flatMap(DurationText.parse), seconds > 0, seconds <= FleetControls.longestSilence else {
                throw WebError(.badRequest, "The duration must be like 90m, 2h or 7d, at most 366d.")
            }
            guard let reason = context.form["reason"]?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
                throw WebError(.badRequest, "Say why (the reason goes into the audit log).")
            }
            let finding = context.form["finding"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : String($0.prefix(100)) }
            _ = try await fleetError {
                try await controls.silence(host: host, finding: finding, seconds: seconds, reason: String(reason.prefix(500)), actor: session.actor)
            }
            return HTML.redirect("/silences?notice=silenced")
        }
        approver.post("/silences/{id}/expire") { _, context in
            let session = try context.signedIn
            guard let id = Int64(try context.parameters.require("id")) else { throw WebError(.notFound, "No such silence.") }
            guard try await controls.endSilence(id: id, actor: session.actor) else { throw WebError(.notFound, "Silence \(id) is not active.") }
            return HTML.redirect("/silences?notice=expired")
        }
        return router
    }

    // MARK: Login

    static let loginCookieName = "fm_login"

    func sessionCookie(_ value: String, maxAge: Int?) -> Cookie {
        Cookie(name: WebSessionMiddleware.cookieName, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    func loginPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        // Double-submit token for the login form itself (there is no session yet).
        let token = WebToken.random()
        let next = Self.safeNext(request.uri.queryParameters.get("next"))
        var values: [String: Any] = ["csrf": token, "next": next]
        if let error { values["error"] = error }
        let body = render("login", values)
        var response = HTML.response(page("Sign in", body: body, session: nil), status: status)
        response.setCookie(Cookie(name: Self.loginCookieName, value: token, maxAge: 3600, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func login(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: WebCSRFMiddleware.maxFormBytes)
        let form = HTML.parseForm(String(buffer: body))
        guard let presented = form["csrf"], let cookie = request.cookies[Self.loginCookieName]?.value,
              !cookie.isEmpty, ConstantTime.equals(Array(presented.utf8), Array(cookie.utf8)) else {
            throw WebError(.forbidden, "This sign-in form has no valid CSRF token (reload the page and try again).")
        }
        let name = String((form["name"] ?? "").prefix(64))
        let password = form["password"] ?? ""
        let now = clock.now()
        let keys = ["user:" + name.lowercased(), "peer:" + context.peer]
        if let wait = await throttle.blocked(keys, now: now) {
            try await store.appendAudit(AuditEntry(at: now, actor: "web:\(name)", action: "web.login_throttled", subject: "web", details: ["peer": context.peer]))
            var response = try await loginPage(request, error: "Too many failed sign-ins. Try again in \(DurationText.human(max(1, wait))).", status: .tooManyRequests)
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        var user: WebUser?
        if (try? WebPassword.validate(name: name)) != nil { user = try await store.webUser(named: name) }
        guard WebPassword.verify(password, user: user), let user else {
            await throttle.fail(keys, now: now)
            try await store.appendAudit(AuditEntry(at: now, actor: "web:\(name)", action: "web.login_failed", subject: "web", details: ["peer": context.peer]))
            return try await loginPage(request, error: "Wrong name or password.", status: .unauthorized)
        }
        await throttle.succeed(keys[0])
        let (value, _) = await sessions.create(user: user.name, role: user.role, credential: user.passwordHash, now: now)
        try await store.appendAudit(AuditEntry(at: now, actor: "web:\(user.name)", action: "web.login", subject: "web", details: ["peer": context.peer, "role": user.role.rawValue]))
        var response = HTML.redirect(Self.safeNext(form["next"]))
        response.setCookie(sessionCookie(value, maxAge: Int(sessions.lifetime)))
        response.setCookie(Cookie(name: Self.loginCookieName, value: "", maxAge: 0, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    /// Only a path on this site (no `//host`, no scheme): no open redirect.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), next.count < 512 else { return "/" }
        return next
    }

    // MARK: Rendering

    func render(_ template: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: template) ?? ""
    }

    func page(_ title: String, body: String, session: WebSession?, controls: [String: String] = [:], refresh: Bool = false, notice: String? = nil) -> String {
        var values: [String: Any] = ["title": title, "body": body, "version": FieldMedicVersion.current]
        if let session { values["user"] = session.user; values["role"] = session.role.rawValue; values["csrf"] = session.csrf }
        if let paused = controls["pause"] { values["fleetPaused"] = paused }
        if let breaker = controls["breaker"] { values["breaker"] = breaker }
        if refresh { values["refresh"] = true }
        if let notice { values["notice"] = notice }
        return render("layout", values)
    }

    static let notices = ["paused": "Fixes paused.", "resumed": "Fixes resumed.", "silenced": "Silence created.", "expired": "Silence expired.",
                          "approved": "Plan approved: the fix runs now.", "denied": "Plan denied."]

    func respond(_ title: String, _ template: String, _ values: [String: Any], _ request: Request, _ context: WebRequestContext,
                 refresh: Bool = false) async throws -> Response {
        let session = try context.signedIn
        var values = values
        values["csrf"] = session.csrf
        values["canAct"] = session.role >= .approver
        values["refreshMs"] = liveRefreshMilliseconds
        let controls = try await controls.controls()
        if let paused = controls["pause"] { values["fleetPaused"] = paused }
        let notice = request.uri.queryParameters.get("notice").flatMap { Self.notices[$0] }
        return HTML.response(page(title, body: render(template, values), session: session, controls: controls, refresh: refresh, notice: notice))
    }

    func fleetError<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as FleetError {
            throw WebError(HTTPResponse.Status(code: error.status), error.description)
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Pages

    func fleetPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let view = FleetView(request.uri.queryParameters)
        let table: String = try await fleetTable(view)
        var values: [String: Any] = ["table": table, "asOf": WebFormat.time(clock.now()), "live": "/fleet/live" + view.query]
        if let filter = view.filter { values["filter"] = filter }
        return try await respond("Fleet", "fleet", values, request, context, refresh: true)
    }

    /// What the fleet table shows: hosts whose name contains `filter`, most in need of
    /// attention first, one page of `FleetView.pageSize` (a phone cannot read a thousand rows,
    /// and rendering them costs more than the rest of the page).
    struct FleetView: Sendable {
        static let pageSize = 100
        var filter: String?
        var page: Int

        init(_ query: Hummingbird.Parameters) {
            filter = query.get("q").map { String($0.trimmingCharacters(in: .whitespaces).prefix(64)) }.flatMap { $0.isEmpty ? nil : $0 }
            page = max(1, min(10_000, Int(query.get("page") ?? "") ?? 1))
        }

        /// The query string that shows this view (the live refresh asks for the same).
        var query: String { query(page: page) }

        func query(page: Int) -> String {
            var parts: [String] = []
            if let filter { parts.append("q=" + HTML.queryEscape(filter)) }
            if page > 1 { parts.append("page=\(page)") }
            return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
        }
    }

    /// Lower is more urgent: critical findings, then offline (or not enrolled, or revoked),
    /// then warnings or open tickets, then paused, then the rest.
    static func attention(online: Bool, critical: Int, warning: Int, tickets: Int, paused: Bool) -> Int {
        if critical > 0 { return 0 }
        if !online { return 1 }
        if warning > 0 || tickets > 0 { return 2 }
        return paused ? 3 : 4
    }

    func fleetTable(_ view: FleetView) async throws -> String {
        let now = clock.now()
        async let agents = store.agents()
        async let reports = store.hostReportFacts()
        async let open = store.openTicketHeads()
        async let silences = store.silences(activeAt: now)
        async let paused = store.controls(prefix: "pause:")
        let ticketsByHost = Dictionary(grouping: try await open.filter { $0.host != nil }, by: { $0.host! })
        let silencesByHost = Dictionary(grouping: try await silences, by: \.agent)
        let (factsByHost, pausedHosts) = (try await reports, try await paused)
        let all = try await agents
        // Rank every host on plain values first; only the page's rows become template values.
        var online = 0, withFindings = 0, openTickets = 0
        var ranked: [(rank: Int, record: AgentRecord, summary: AgentSummary)] = []
        ranked.reserveCapacity(all.count)
        for record in all {
            let summary = AgentSummary(record, now: now, offlineAfter: offlineAfter)
            let facts = factsByHost[record.name]
            let tickets = ticketsByHost[record.name]?.count ?? 0
            if summary.online { online += 1 }
            if let facts, facts.critical + facts.warning + facts.info > 0 { withFindings += 1 }
            openTickets += tickets
            if let filter = view.filter, !record.name.localizedCaseInsensitiveContains(filter) { continue }
            let rank = Self.attention(online: summary.online, critical: facts?.critical ?? 0, warning: facts?.warning ?? 0, tickets: tickets,
                                      paused: pausedHosts["pause:\(record.name)"] != nil)
            ranked.append((rank, record, summary))
        }
        ranked.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.record.name < $1.record.name }
        let pages = max(1, (ranked.count + FleetView.pageSize - 1) / FleetView.pageSize)
        let page = min(view.page, pages)
        let first = (page - 1) * FleetView.pageSize
        let shown = ranked[min(first, ranked.count)..<min(first + FleetView.pageSize, ranked.count)]
        let rows: [[String: Any]] = shown.map { entry -> [String: Any] in
            let record = entry.record
            var row = Self.stateValues(entry.summary)
            row["name"] = record.name
            row["lastReport"] = WebFormat.ago(record.lastReportAt, now: now)
            row["certificate"] = record.certificateNotAfter.map(WebFormat.day) ?? "—"
            let facts = factsByHost[record.name]
            row["version"] = facts?.agentVersion ?? "—"
            if let facts {
                if facts.critical > 0 { row["critical"] = facts.critical }
                if facts.warning > 0 { row["warning"] = facts.warning }
                if facts.info > 0 { row["info"] = facts.info }
                if facts.critical + facts.warning + facts.info > 0 { row["anyFinding"] = true }
            }
            var links: [[String: Any]] = []
            for head in (ticketsByHost[record.name] ?? []).prefix(5) { links.append(["id": head.id, "state": head.state]) }
            row["tickets"] = links
            row["silences"] = (silencesByHost[record.name] ?? []).count
            if pausedHosts["pause:\(record.name)"] != nil { row["paused"] = true }
            return row
        }
        var values: [String: Any] = ["hosts": rows]
        values["summary"] = "\(all.count) host\(all.count == 1 ? "" : "s"): \(online) online, \(all.count - online) offline or not reporting; "
            + "\(withFindings) with findings; \(openTickets) open ticket\(openTickets == 1 ? "" : "s")"
        if let filter = view.filter { values["filtered"] = "\(ranked.count) of them match “\(filter)”" }
        if ranked.count > FleetView.pageSize {
            values["range"] = "Hosts \(first + 1)–\(first + shown.count) of \(ranked.count), most in need of attention first"
            if page > 1 { values["previous"] = "/" + view.query(page: page - 1) }
            if page < pages { values["next"] = "/" + view.query(page: page + 1) }
        }
        return render("fleet-table", values)
    }

    static func stateValues(_ summary: AgentSummary) -> [String: Any] {
        switch summary.state {
        case .active: summary.online ? ["stateText": "online", "stateClass": "online"] : ["stateText": "offline", "stateClass": "offline"]
        case .pending: ["stateText": "not enrolled", "stateClass": "pending"]
        case .revoked: ["stateText": "revoked", "stateClass": "revoked"]
        }
    }

    func hostPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let record = try await store.agent(named: name) else { throw WebError(.notFound, "No host \(name).") }
        let now = clock.now()
        let summary = AgentSummary(record, now: now, offlineAfter: offlineAfter)
        let report = try await store.latestReport(agent: name)
        var values = Self.stateValues(summary)
        values["name"] = name
        values["lastReport"] = WebFormat.ago(record.lastReportAt, now: now)
        values["certificate"] = record.certificateNotAfter.map(WebFormat.day) ?? "—"
        values["version"] = report?.agentVersion ?? "—"
        if let paused = try await store.control("pause:\(name)") { values["pausedBy"] = paused }
        var findings: [[String: Any]] = []
        for f in (report?.findings ?? []).sorted(by: { $0.severity > $1.severity }) {
            var row: [String: Any] = [:]
            row["severity"] = f.severity.rawValue
            row["code"] = f.code
            row["subject"] = f.subject
            row["message"] = f.message
            findings.append(row)
        }
        values["findings"] = findings
        var containers: [[String: Any]] = []
        for c in report?.services ?? [] {
            var row: [String: Any] = [:]
            row["service"] = c.service
            row["container"] = c.container
            row["state"] = c.state
            row["health"] = c.health ?? "—"
            row["restarts"] = c.restartCount
            row["image"] = c.image
            row["rowClass"] = c.isFine ? "" : "bad"
            containers.append(row)
        }
        values["containers"] = containers
        // 7 days of raw samples (kept `raw_retention`, 7d by default); one query for both spans.
        let series = try await store.series(agent: name, since: now.addingTimeInterval(-7 * 86_400))
        let trends = HostTrends.make(series: series, config: engine.config.predict, now: now)
        var rows: [[String: Any]] = []
        for (metric, label, unit) in [("disk.used_pct", "Disk", "%"), ("queue.pending", "Queue pending", "")] {
            for (subject, points) in (series[metric] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let trend = trends.trends.first { $0.metric == metric && $0.subject == subject }
                let end: Double = now.timeIntervalSince1970
                var row: [String: Any] = [:]
                row["label"] = "\(label) \(subject)"
                if let last = points.last { row["now"] = String(format: "%.1f", last.v) + unit } else { row["now"] = "—" }
                row["day"] = SVGSparkline.render(points, from: end - 86_400, to: end, label: "\(label) \(subject), 24 hours")
                row["week"] = SVGSparkline.render(points, from: end - 7 * 86_400, to: end, label: "\(label) \(subject), 7 days")
                if let trend {
                    row["trend"] = String(format: "%+.2f", trend.slopePerHour) + unit + "/h"
                    if let eta = trend.etaFull { row["fullIn"] = DurationText.human(eta) } else { row["fullIn"] = metric == "disk.used_pct" ? "not filling" : "—" }
                    if let weak = trend.tooLittleData {
                        row["confidence"] = weak
                    } else {
                        let fit: String = String(format: "r² %.2f", trend.r2)
                        row["confidence"] = fit + " over " + DurationText.human(trend.span ?? 0)
                    }
                } else {
                    row["trend"] = "—"; row["fullIn"] = "—"; row["confidence"] = "too little data"
                }
                rows.append(row)
            }
        }
        values["series"] = rows
        let recent: [TicketLine] = try await store.ticketLines(host: name, state: nil, openOnly: false, limit: 10, offset: 0)
        let ticketRows: [[String: Any]] = recent.map { Self.ticketRow($0, playbook: engine.config.playbook, now: now) }
        values["tickets"] = ticketRows
        let hostSilences: [SilenceRecord] = try await store.silences(activeAt: now).filter { $0.agent == name }
        let silenceRows: [[String: Any]] = hostSilences.map(Self.silenceRow)
        values["silences"] = silenceRows
        return try await respond(name, "host", values, request, context)
    }


    static func silenceRow(_ s: SilenceRecord) -> [String: Any] {
        var row: [String: Any] = [:]
        row["id"] = s.id
        row["host"] = s.agent
        row["finding"] = s.finding ?? "all findings"
        row["until"] = WebFormat.time(s.until)
        row["createdBy"] = s.createdBy
        row["reason"] = s.reason
        return row
    }

    static let ticketPageLimit = 100

    func ticketsPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let host = query.get("host").flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        let state = query.get("state").flatMap(TicketState.init(rawValue:))
        let priority = query.get("priority").flatMap(TicketPriority.init(rawValue:))
        let all = query.get("all") == "1" || (state?.isTerminal ?? false)
        let page = max(1, min(1_000, Int(query.get("page") ?? "") ?? 1))
        let now = clock.now()
        let size = Self.ticketPageLimit
        let lines: [TicketLine]
        var scanLimited = false
        if let priority {
            // Priority comes from the findings and the playbook, so it is filtered here, over
            // the newest `priorityScanLimit` lines (light: no whole documents).
            let scanned = try await store.ticketLines(host: host, state: state, openOnly: !all, limit: Self.priorityScanLimit, offset: 0)
            scanLimited = scanned.count == Self.priorityScanLimit
            let matching = scanned.filter { $0.priority(engine.config.playbook) == priority }
            lines = Array(matching.dropFirst((page - 1) * size).prefix(size + 1))
        } else {
            lines = try await store.ticketLines(host: host, state: state, openOnly: !all, limit: size + 1, offset: (page - 1) * size)
        }
        var values: [String: Any] = [:]
        let rows: [[String: Any]] = lines.prefix(size).map { Self.ticketRow($0, playbook: engine.config.playbook, now: now) }
        values["rows"] = rows
        var states: [[String: Any]] = []
        for option in TicketState.allCases { states.append(["value": option.rawValue, "selected": option == state]) }
        values["states"] = states
        var priorities: [[String: Any]] = []
        for option in TicketPriority.allCases { priorities.append(["value": option.rawValue, "selected": option == priority]) }
        values["priorities"] = priorities
        let hostNames: [String] = try await store.agents().map(\.name)
        values["hostNames"] = hostNames
        if let host { values["host"] = host }
        if all { values["all"] = true }
        // Pages keep the filter: the same query with another page number.
        var kept: [String] = []
        if let host { kept.append("host=" + HTML.queryEscape(host)) }
        if let state { kept.append("state=" + state.rawValue) }
        if let priority { kept.append("priority=" + priority.rawValue) }
        if all { kept.append("all=1") }
        func link(_ page: Int) -> String { "/tickets?" + (kept + ["page=\(page)"]).joined(separator: "&") }
        if page > 1 || lines.count > size {
            values["range"] = rows.isEmpty ? "No tickets on page \(page)" : "Tickets \((page - 1) * size + 1)–\((page - 1) * size + rows.count), newest first"
            if page > 1 { values["previous"] = link(page - 1) }
            if lines.count > size { values["next"] = link(page + 1) }
        }
        if scanLimited { values["scanLimited"] = "The priority filter looks at the newest \(Self.priorityScanLimit) tickets only; add a host or state to look further back." }
        return try await respond("Tickets", "tickets", values, request, context)
    }

    static let priorityScanLimit = 5_000

    static func ticketRow(_ t: TicketLine, playbook: Playbook, now: Date) -> [String: Any] {
        var row: [String: Any] = [:]
        row["id"] = t.id
        row["host"] = t.host ?? "—"
        row["state"] = t.state
        row["priority"] = t.priority(playbook).rawValue
        row["title"] = t.title
        row["updated"] = WebFormat.ago(t.updatedAt, now: now)
        if let issue = t.issueNumber { row["issue"] = issue }
        return row
    }

    func ticket(_ context: WebRequestContext) async throws -> Ticket {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), let ticket = try await store.ticket(id: id) else { throw WebError(.notFound, "No ticket \(text.prefix(20)).") }
        return ticket
    }

    func ticketLive(_ t: Ticket, now: Date) -> String {
        var values: [String: Any] = [:]
        values["state"] = t.state.rawValue
        values["priority"] = t.priority(engine.config.playbook).rawValue
        values["host"] = t.host ?? "—"
        values["source"] = t.source.rawValue
        var timeline: [[String: Any]] = []
        for entry in t.timeline.reversed() { timeline.append(["at": WebFormat.time(entry.at), "text": entry.text]) }
        values["timeline"] = timeline
        if let issue = t.issueNumber { values["issue"] = issue }
        if let verdict = t.verdict ?? t.waitNote { values["verdict"] = verdict }
        if t.state == .awaitingApproval { values["awaiting"] = true }
        return render("ticket-live", values)
    }

    func ticketPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let t = try await ticket(context)
        let now = clock.now()
        var values: [String: Any] = [:]
        values["id"] = t.id
        values["title"] = t.title
        values["live"] = ticketLive(t, now: now)
        values["asOf"] = WebFormat.time(now)
        var actions: [[String: Any]] = []
        for a in t.actions {
            var row: [String: Any] = [:]
            row["step"] = a.step + 1
            row["summary"] = a.summary
            row["status"] = a.status
            if let verified = a.verified { row["verified"] = verified ? "yes" : "no" } else { row["verified"] = "—" }
            row["message"] = a.message
            row["dryRun"] = a.dryRun
            actions.append(row)
        }
        values["actions"] = actions
        values["report"] = TicketReport.render(t, mode: engine.config.mode, mentions: mentions, playbook: engine.config.playbook)
        if let plan = t.plan {
            var steps: [[String: Any]] = []
            for step in plan.steps { steps.append(["summary": step.summary, "finding": step.finding, "policy": step.policy.rawValue]) }
            let planValues: [String: Any] = ["shortHash": plan.shortHash, "steps": steps]
            values["plan"] = planValues
        }
        return try await respond("#\(t.id)", "ticket", values, request, context, refresh: !t.state.isTerminal)
    }

    func approvalsPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let now = clock.now()
        // The oldest-updated last; a page of 100 is more than anyone reads at once.
        let waiting = try await store.tickets(host: nil, state: .awaitingApproval, openOnly: false, limit: Self.approvalsPageLimit + 1)
        var items: [[String: Any]] = []
        for t in waiting {
            guard let plan = t.plan else { continue }
            var item: [String: Any] = [:]
            item["id"] = t.id
            item["title"] = t.title
            item["host"] = t.host ?? "—"
            item["priority"] = t.priority(engine.config.playbook).rawValue
            item["hash"] = plan.hash
            item["shortHash"] = plan.shortHash
            item["requested"] = WebFormat.ago(t.approval?.requestedAt, now: now)
            var steps: [[String: Any]] = []
            for step in plan.steps { steps.append(["summary": step.summary, "finding": step.finding]) }
            item["steps"] = steps
            var dryRuns: [[String: Any]] = []
            for a in t.actions where a.dryRun {
                let lines: [String] = ([a.message] + a.plan).filter { !$0.isEmpty }
                dryRuns.append(["action": a.action, "status": a.status, "output": lines.joined(separator: "\n")])
            }
            item["dryRuns"] = dryRuns
            items.append(item)
        }
        var values: [String: Any] = ["items": Array(items.prefix(Self.approvalsPageLimit))]
        if items.count > Self.approvalsPageLimit { values["more"] = true; values["limit"] = Self.approvalsPageLimit }
        return try await respond("Approvals", "approvals", values, request, context, refresh: true)
    }

    static let approvalsPageLimit = 100

    func decide(_ context: WebRequestContext, approve: Bool) async throws -> Response {
        let session = try context.signedIn
        guard let id = Int64(try context.parameters.require("id")) else { throw WebError(.notFound, "No such ticket.") }
        // Approve is bound to the plan hash the page showed; a changed plan is refused.
        let hash = context.form["plan"].flatMap { $0.isEmpty ? nil : $0 }
        if approve && hash == nil { throw WebError(.badRequest, "An approval must name the plan it approves.") }
        if let refusal = try await fleetError({ try await controls.decide(ticket: id, approve: approve, planHash: hash, actor: session.actor) }) {
            throw WebError(.conflict, refusal)
        }
        return HTML.redirect("/tickets/\(id)?notice=\(approve ? "approved" : "denied")")
    }

    func auditPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let q = request.uri.queryParameters.get("q").map { String($0.prefix(100)) }
        var values: [String: Any] = [:]
        let (verdict, checkedAt) = try await chainStatus.verdict(now: clock.now()) { try await store.verifyAudit() }
        values["checked"] = WebFormat.ago(checkedAt, now: clock.now())
        switch verdict {
        case .intact(let head):
            values["chain"] = "intact"
            values["chainClass"] = "chain-ok"
            values["head"] = head.count > 0 ? "\(head.count):\(head.hash)" : "empty"
        case .broken(let broken):
            values["chain"] = "BROKEN: \(broken)"
            values["chainClass"] = "chain-broken"
            values["head"] = (try? store.auditHead())?.description ?? "—"
        }
        values["rows"] = try await store.auditRowCount()
        if let q { values["q"] = q }
        var entries: [[String: Any]] = []
        for r in try await store.recentAudit(matching: q, limit: 200) {
            entries.append(["id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject, "details": r.details])
        }
        values["entries"] = entries
        return try await respond("Audit", "audit", values, request, context)
    }

    func auditExport() async throws -> Response {
        let rows = try await store.auditRows(since: nil)
        var out = Data()
        for row in rows {
            out.append(try WireCodec.encode(row))
            out.append(0x0A)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson", .contentDisposition: "attachment; filename=\"fieldmedic-audit.jsonl\""],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: out)))
    }

    func silencesPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let silences = try await store.silences(activeAt: clock.now())
        let items: [[String: Any]] = silences.map(Self.silenceRow)
        let hostNames: [String] = try await store.agents().map(\.name)
        return try await respond("Silences", "silences", ["items": items, "hostNames": hostNames], request, context)
    }
}

enum WebFormat {
    static func time(_ date: Date) -> String {
        let text = WireDate.format(date)
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func day(_ date: Date) -> String { String(WireDate.format(date).prefix(10)) }

    static func ago(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let seconds = max(0, now.timeIntervalSince(date))
        return seconds < 1 ? "just now" : DurationText.human(seconds) + " ago"
    }
}

/// The last audit-chain verdict and when it was reached; re-verified once older than `maxAge`.
actor ChainStatusCache {
    let maxAge: TimeInterval
    private var last: (verdict: ChainVerdict, at: Date)?

    init(maxAge: TimeInterval) {
        self.maxAge = maxAge
    }

    func verdict(now: Date, verify: () async throws -> ChainVerdict) async throws -> (ChainVerdict, Date) {
        if let last, now.timeIntervalSince(last.at) < maxAge, now >= last.at { return (last.verdict, last.at) }
        let verdict = try await verify()
        last = (verdict, now)
        return (verdict, now)
    }
}
