import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import Coordinator
@testable import Shared

/// Collects log lines in memory.
final class CapturedLog: LogHandler, @unchecked Sendable {
    // @unchecked: `lines` is only touched while holding `lock`.
    private let lock = NSLock()
    private var stored: [String] = []
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    var lines: [String] { lock.withLock { stored } }

    func log(event: LogEvent) {
        lock.withLock { stored.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
    }
}

/// A full disk is answered 503 with a message and logged as an error; nothing is an empty 500.
@Suite struct ErrorRenderingTests {
    @Test func aFullDiskIsA503WithAMessageAndAnErrorLine() async throws {
        let captured = CapturedLog()
        let logger = Logger(label: "test") { _ in captured }
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        router.post("/full") { _, _ -> String in throw DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full") }
        router.post("/odd") { _, _ -> String in throw CocoaError(.fileNoSuchFile) }
        router.get("/missing") { _, _ -> String in throw APIError(.notFound, "not_found", "nope") }
        try await Application(router: router).test(.router) { client in
            let full = try await client.execute(uri: "/full", method: .post)
            #expect(full.status == .serviceUnavailable)
            #expect(String(buffer: full.body).contains("disk is full"))
            let odd = try await client.execute(uri: "/odd", method: .post)
            #expect(odd.status == .internalServerError)
            #expect(String(buffer: odd.body).contains("log says why"))
            let missing = try await client.execute(uri: "/missing", method: .get)
            #expect(missing.status == .notFound)
        }
        #expect(captured.lines.contains { $0.hasPrefix("error") && $0.contains("disk is full") })
    }

    /// GlitchTip's token is its URL: an error on that route is logged without it.
    @Test func theGlitchTipTokenInThePathIsNotLogged() async throws {
        let captured = CapturedLog()
        let logger = Logger(label: "test") { _ in captured }
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger, pathForLog: IngestAPI.loggablePath))
        router.post("/v1/ingest/glitchtip/{token}") { _, _ -> String in throw CocoaError(.fileNoSuchFile) }
        let token = "Zq8x-secret-glitchtip-token-0123456789"
        try await Application(router: router).test(.router) { client in
            let answer = try await client.execute(uri: "/v1/ingest/glitchtip/\(token)", method: .post)
            #expect(answer.status == .internalServerError)
        }
        #expect(captured.lines.contains { $0.contains("/v1/ingest/glitchtip/[REDACTED]") }, "\(captured.lines)")
        #expect(!captured.lines.contains { $0.contains(token) })
        #expect(IngestAPI.loggablePath("/v1/ingest/alertmanager") == "/v1/ingest/alertmanager")
    }

    @Test func everyListenerRendersErrors() async throws {
        // The operator router as serve builds it: a store that cannot be written answers with a message.
        let t = try await TicketFixture()
        let f = t.fleet
        let router = OperatorRouter.make(token: Secret("t"), rejections: f.fleet.rejections, routes: [OperatorAPI(fleet: f.fleet, offlineAfter: 180)])
        try await f.store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        try await Application(router: router).test(.router) { client in
            let answer = try await client.execute(
                uri: "/operator/agents", method: .post, headers: [.authorization: "Bearer t"], body: ByteBuffer(string: #"{"name":"vps-9"}"#))
            #expect(answer.status == .internalServerError)
            #expect(String(buffer: answer.body).contains("log says why"))
        }
    }
}
