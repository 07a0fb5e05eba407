import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Coordinator
@testable import Shared

/// Walks every route each listener registers and calls it without credentials: only the
/// routes a listener declares public may answer anything but 401/403.
@Suite struct RouteAuthenticationTests {
    static func concrete(_ path: String) -> String {
        path.split(separator: "/").map { $0.hasPrefix("{") ? "1" : String($0) }.reduce("") { $0 + "/" + $1 }
    }

    /// Calls each route of `router` that is not public with `headers`; returns "METHOD path → status" for the ones let through.
    static func unguarded<Context: RequestContext>(
        _ router: Router<Context>, public declared: Set<String>, headers: HTTPFields = [:]
    ) async throws -> (all: [String], letThrough: [String]) where Context.Source == ApplicationRequestContextSource {
        let routes = router.routes.map { ($0.method, $0.path.description) }
        let app = Application(router: router)
        let letThrough = try await app.test(.router) { client in
            var found: [String] = []
            for (method, path) in routes where !declared.contains("\(method) \(path)") {
                let response = try await client.execute(uri: concrete(path), method: method, headers: headers, body: ByteBuffer(string: "{}"))
                if ![401, 403].contains(response.status.code) { found.append("\(method) \(path) → \(response.status.code)") }
            }
            return found
        }
        return (routes.map { "\($0.0) \($0.1)" }, letThrough)
    }

    @Test func everyAgentRouteButThePublicOnesNeedsAClientCertificate() async throws {
        let f = try FleetFixture()
        let rejections = RejectionLog(store: f.store, clock: f.clock)
        let api = AgentAPI(
            fleet: f.fleet, authenticator: AgentAuthenticator(store: f.store, clock: f.clock, rejections: rejections, cache: nil),
            maxBodyBytes: 1 << 20, maxLongPoll: 1)
        let (all, letThrough) = try await Self.unguarded(api.makeRouter(), public: AgentAPI.publicRoutes)
        #expect(letThrough.isEmpty)
        #expect(Set(all).isSuperset(of: AgentAPI.publicRoutes))
        #expect(all.count >= 6, "found only \(all)")
    }

    @Test func everyOperatorRouteNeedsTheToken() async throws {
        let t = try await TicketFixture()
        let f = t.fleet
        let rejections = RejectionLog(store: f.store, clock: f.clock)
        let router = OperatorRouter.make(token: Secret("right-token"), rejections: rejections, routes: [
            OperatorAPI(fleet: f.fleet, offlineAfter: 180),
            TicketOperatorAPI(engine: t.engine, mode: .fix, mentions: [], predict: t.config.predict),
            IngestOperatorAPI(store: f.store),
        ])
        let routeCount = router.routes.count
        let none = try await Self.unguarded(router, public: [])
        #expect(none.letThrough.isEmpty)
        let wrong = try await Self.unguarded(router, public: [], headers: [.authorization: "Bearer wrong-token"])
        #expect(wrong.letThrough.isEmpty)
        #expect(routeCount >= 20, "found only \(none.all)")
    }

    @Test func theIngestListenerNeedsItsTokenOrAnAgentCertificate() async throws {
        let t = try await TicketFixture()
        let plain = try IngestTestSupport.api(t)
        for router in [plain.makeRouter(), IngestAPI(
            service: plain.service, config: plain.config, secrets: IngestSecrets(alertmanagerToken: nil, glitchtipToken: nil),
            authenticator: AgentAuthenticator(store: t.fleet.store, clock: t.fleet.clock, rejections: plain.rejections, cache: nil),
            rejections: plain.rejections, logger: t.logger).makeRouter()] {
            let (all, letThrough) = try await Self.unguarded(router, public: IngestAPI.publicRoutes)
            #expect(letThrough.isEmpty)
            #expect(all.contains("POST /v1/ingest/alertmanager") && all.contains("POST /v1/ingest/glitchtip/{token}"), "\(all)")
            let wrong = try await Self.unguarded(router, public: IngestAPI.publicRoutes, headers: [.authorization: "Bearer wrong-token"])
            #expect(wrong.letThrough.isEmpty)
        }
        // The right token gets through to the handler (400: `{}` is no Alertmanager message).
        try await Application(router: plain.makeRouter()).test(.router) { client in
            let answer = try await client.execute(uri: "/v1/ingest/alertmanager", method: .post,
                                                  headers: [.authorization: "Bearer \(IngestTestSupport.token)"], body: ByteBuffer(string: "{}"))
            #expect(answer.status.code == 400, "\(answer.status)")
        }
        #expect(try await t.fleet.store.storedAlerts(limit: 10).isEmpty)
    }

    @Test func theWebhookNeedsItsSignature() async throws {
        let t = try await TicketFixture()
        let webhook = WebhookAPI(
            intake: t.intake, verifier: WebhookVerifier(secret: Array("s3cret".utf8)), repository: "acme/ops", store: t.fleet.store,
            clock: t.fleet.clock, logger: t.logger)
        let (all, letThrough) = try await Self.unguarded(webhook.makeRouter(), public: WebhookAPI.publicRoutes)
        #expect(letThrough.isEmpty)
        #expect(all.contains("POST /github/webhook"))
        // A signed delivery gets through to the handler, with the body the signature covered.
        let body = #"{"zen":"Design for failure.","hook_id":1}"#
        let signature = "sha256=" + Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data("s3cret".utf8)))))
        try await Application(router: webhook.makeRouter()).test(.router) { client in
            let answer = try await client.execute(
                uri: "/github/webhook", method: .post,
                headers: [HTTPField.Name("X-Hub-Signature-256")!: signature, HTTPField.Name("X-GitHub-Event")!: "ping",
                          HTTPField.Name("X-GitHub-Delivery")!: "d-1"],
                body: ByteBuffer(string: body))
            #expect(![401, 403].contains(answer.status.code), "\(answer.status)")
        }
    }

    /// The dashboard: without a session every page sends the browser to /login and every
    /// other request is 401; with a session, every POST without the session's CSRF token is
    /// 403; a viewer is refused (403) by every route that changes something.
    @Test func everyDashboardRouteNeedsASessionAndEveryFormItsCSRFToken() async throws {
        let f = try await WebFixture()
        let router = f.dashboard.makeRouter()
        let routes = router.routes.map { ($0.method, $0.path.description) }.filter { !WebDashboard.publicRoutes.contains("\($0.0) \($0.1)") }
        #expect(routes.count >= 17, "found only \(routes)")
        #expect(Set(router.routes.map { "\($0.method) \($0.path.description)" }).isSuperset(of: WebDashboard.publicRoutes))
        try await Application(router: router).test(.router) { client in
            var letThrough: [String] = []
            for (method, path) in routes {
                let anonymous = try await client.execute(uri: Self.concrete(path), method: method, body: ByteBuffer(string: "csrf=x"))
                let expected: Set<UInt> = method == .get ? [303] : [401]
                if !expected.contains(UInt(anonymous.status.code)) { letThrough.append("\(method) \(path) → \(anonymous.status.code) without a session") }
                if method == .get, anonymous.headers[.location]?.hasPrefix("/login?next=") != true { letThrough.append("\(method) \(path) does not send to /login") }
            }
            let vera = try #require(try await WebTest.signIn(client, "vera"))
            let alice = try #require(try await WebTest.signIn(client, "alice"))
            for (method, path) in routes where method != .get {
                let noToken = try await client.execute(uri: Self.concrete(path), method: method, headers: alice.headers, body: ByteBuffer(string: "plan=x"))
                if noToken.status != .forbidden { letThrough.append("\(method) \(path) → \(noToken.status.code) without a CSRF token") }
                let wrongToken = try await client.execute(uri: Self.concrete(path), method: method, headers: alice.headers, body: WebTest.form(["csrf": vera.csrf]))
                if wrongToken.status != .forbidden { letThrough.append("\(method) \(path) → \(wrongToken.status.code) with another session's token") }
                guard path != "/logout" else { continue }
                let viewer = try await client.execute(uri: Self.concrete(path), method: method, headers: vera.headers,
                                                      body: WebTest.form(["csrf": vera.csrf, "confirm": "yes", "reason": "r", "host": "vps-1", "duration": "1h", "plan": "x"]))
                if viewer.status != .forbidden { letThrough.append("\(method) \(path) → \(viewer.status.code) for a viewer") }
            }
            #expect(letThrough.isEmpty, "\(letThrough)")
        }
    }
}
