import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Shared

/// Headers every dashboard answer carries: no framing, no sniffing, no third-party anything
/// (the CSP allows only this origin's own CSS and script), nothing cached; and
/// `Server-Timing: app;dur=MS`, the time the coordinator spent on the answer (the page is
/// rendered whole before it leaves, so this is the server time a browser's developer tools
/// and `scripts/bench-dashboard.sh` show).
struct WebSecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        response.headers[Self.serverTiming] = "app;dur=" + Self.milliseconds(ContinuousClock.now - started)
        return response
    }

    static let serverTiming = HTTPField.Name("Server-Timing")!

    /// Milliseconds with two decimals, as Server-Timing's `dur` expects.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }
}

/// Finds the session named by the cookie. Without one, a page asks the browser to sign in
/// (303 to /login) and anything else is refused with 401. On the route group, so no page can
/// forget it (RouteAuthenticationTests walks every route).
struct WebSessionMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let sessions: WebSessions
    let accounts: any WebAccountStore
    let clock: any WallClock

    /// A reverse proxy that signs people in (oauth2-proxy): its header names the person, and
    /// is believed only from `trusted` addresses. The person needs a FieldMedic account (its
    /// role applies); the proxy's sign-in starts an ordinary session, so CSRF works as usual.
    struct ProxyUser: Sendable {
        var header: HTTPField.Name
        var trusted: Set<String>
        var cookie: @Sendable (String, Int) -> Cookie
        var audit: @Sendable (AuditEntry) async throws -> Void
    }
    var proxy: ProxyUser? = nil

    static let cookieName = "fm_session"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let proxied = proxy.flatMap { proxy in
            proxy.trusted.contains(context.peer) ? request.headers[proxy.header].map { String($0.prefix(64)) } : nil
        }
        if let cookie = request.cookies[Self.cookieName]?.value, !cookie.isEmpty,
           var session = await sessions.session(cookie: cookie, now: clock.now()) {
            // The account as it is now: removed, or given a new password, signs the session
            // out; a changed role applies at once. Behind a signing-in proxy, the session must
            // be the person the proxy names.
            if let user = try await accounts.webUser(named: session.user), user.passwordHash == session.credential,
               proxied == nil || proxied == user.name {
                session.role = user.role
                context.session = session
                return try await next(request, context)
            }
            await sessions.end(cookie: cookie)
        }
        if let proxy, let name = proxied {
            guard (try? WebPassword.validate(name: name)) != nil, let user = try await accounts.webUser(named: name) else {
                throw WebError(.forbidden, "The sign-in proxy names \(name), who has no FieldMedic account: an admin adds one with `fieldmedic-coordinator users add NAME --role viewer`.")
            }
            let now = clock.now()
            let (value, session) = await sessions.create(user: user.name, role: user.role, credential: user.passwordHash, now: now)
            try await proxy.audit(AuditEntry(at: now, actor: "web:\(user.name)", action: "web.login", subject: "web",
                                             details: ["peer": context.peer, "role": user.role.rawValue, "via": "proxy header \(proxy.header.rawName)"]))
            context.session = session
            var response = try await next(request, context)
            response.setCookie(proxy.cookie(value, Int(sessions.lifetime)))
            return response
        }
        if request.method == .get || request.method == .head {
            let path = request.uri.path.hasPrefix("/") && !request.uri.path.hasPrefix("//") ? request.uri.path : "/"
            return HTML.redirect("/login?next=" + HTML.queryEscape(path))
        }
        throw WebError(.unauthorized, "Your session has ended. Sign in again.")
    }
}

/// Every state-changing request must carry the session's CSRF token in the form field
/// `csrf` (compared in constant time); reads the form into the context for the handler.
struct WebCSRFMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    static let maxFormBytes = 64 * 1024

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get && request.method != .head else { return try await next(request, context) }
        var context = context
        let session = try context.signedIn
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxFormBytes)
        } catch {
            throw WebError(.contentTooLarge, "The form is larger than \(Self.maxFormBytes / 1024) KiB.")
        }
        let form = HTML.parseForm(String(buffer: body))
        guard let token = form["csrf"], ConstantTime.equals(Array(token.utf8), Array(session.csrf.utf8)) else {
            throw WebError(.forbidden, "This form has no valid CSRF token (reload the page and try again).")
        }
        context.form = form
        return try await next(request, context)
    }
}

/// Refuses people whose role is below `minimum` (403).
struct WebRoleMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let minimum: WebRole

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let session = try context.signedIn
        guard session.role >= minimum else {
            throw WebError(.forbidden, "\(session.user) is a \(session.role.rawValue); this needs the \(minimum.rawValue) role.")
        }
        return try await next(request, context)
    }
}

/// `/metrics` with `[web] metrics_token_file`: a bearer token, compared in constant time.
struct MetricsTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: Secret?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let token {
            let presented = request.headers[.authorization] ?? ""
            guard presented.hasPrefix("Bearer "), token.matches(String(presented.dropFirst(7))) else {
                throw WebError(.unauthorized, "missing or wrong metrics token", headers: [.wwwAuthenticate: "Bearer"])
            }
        }
        return try await next(request, context)
    }
}
