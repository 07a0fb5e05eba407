import Crypto
import Hummingbird
import Foundation
import Logging
import Testing
@testable import Coordinator
@testable import Shared

/// swift-service-lifecycle logs every service with `String(describing:)`; a debugger or a
/// `dump` prints whatever a value holds. None of them may show a key, a token or a secret.
@Suite struct SecretRedactionTests {
    static func printings(_ value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), String(reflecting: value), "\(value)", dumped]
    }

    static func keyGiveaways(_ pem: String) throws -> [String] {
        let raw = Array(try P256.Signing.PrivateKey(pemRepresentation: pem).rawRepresentation)
        // Every base64 line but the last, which holds the public key (certificates show it anyway).
        return pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.dropLast().map(String.init)
            + [Hex.encode(raw), Data(raw).base64EncodedString(), "\(raw)", "PRIVATE KEY"]
    }

    @Test func theLoggedServicesDoNotPrintTheCAKey() async throws {
        let t = try await TicketFixture()
        let secrets = try Self.keyGiveaways(t.fleet.fleet.authority.keyPEM.revealed)
        let watcher = Watcher(engine: t.engine, config: t.config.predict, offlineAfter: 180, logger: t.logger)
        let services: [Any] = [t.runner, watcher, t.fleet.fleet, t.engine, ShutdownHook(notifier: t.fleet.fleet.notifier)]
        for service in services {
            for text in Self.printings(service) {
                for secret in secrets { #expect(!text.contains(secret), "\(type(of: service)) printed \(secret)") }
            }
        }
    }

    @Test func operatorTokenWebhookSecretAndGitHubTokenDoNotPrint() async throws {
        let f = try FleetFixture()
        let token = "operator-token-0123456789abcdef"
        let hook = "webhook-secret-0123456789abcdef"
        let github = "ghp_0123456789abcdefghijABCDEFGHIJ"
        let rejections = RejectionLog(store: f.store, clock: f.clock)
        let values: [Any] = [
            OperatorRouter.make(token: Secret(token), rejections: rejections, routes: [OperatorAPI(fleet: f.fleet, offlineAfter: 180)]),
            OperatorTokenMiddleware<BasicRequestContext>(token: Secret(token), rejections: rejections),
            WebhookVerifier(secret: Array(hook.utf8)),
            GitHubClient(apiURL: "http://127.0.0.1:9", repository: "o/r", token: github),
        ]
        for value in values {
            for text in Self.printings(value) {
                #expect(!text.contains(token) && !text.contains(hook) && !text.contains(github), "\(type(of: value)) printed a secret")
            }
        }
    }

    @Test func aNewJoinTokenDoesNotPrint() async throws {
        let f = try FleetFixture()
        let (token, expires) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let response = AddAgentResponse(name: "vps-1", token: token.text, tokenId: token.id, expiresAt: expires)
        for text in Self.printings(token) + Self.printings(response) {
            #expect(!text.contains(token.secret.revealed))
        }
    }
}
