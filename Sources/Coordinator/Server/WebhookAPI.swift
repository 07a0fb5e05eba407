import Foundation
import Hummingbird
import Logging
import Shared

/// `POST /github/webhook`: GitHub deliveries, accepted only with a valid
/// `X-Hub-Signature-256` (checked by `WebhookSignatureMiddleware` on the route's group,
/// before anything is parsed or stored).
struct WebhookAPI: Sendable {
    let intake: IssueIntake
    let verifier: WebhookVerifier
    let repository: String
    let store: any FullStore
    /// GitHub caps a delivery's payload at 25 MB.
    static let maxBodyBytes = 25 << 20
    let clock: any WallClock
    let logger: Logger

    /// Reachable without the signature; the route-walk test holds every other route to 401.
    static let publicRoutes: Set<String> = ["GET /healthz"]

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        let signed = router.group().add(middleware: WebhookSignatureMiddleware(verifier: verifier, logger: logger))
        signed.post("/github/webhook") { request, context in
            try await receive(request, context: context)
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return router
    }

    func receive(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maxBodyBytes)
        } catch {
            return Self.answer(.contentTooLarge, "body over \(Self.maxBodyBytes) bytes")
        }
        let bytes = Data(body.readableBytesView)
        let event = request.headers[.init("X-GitHub-Event")!] ?? ""
        let delivery = request.headers[.init("X-GitHub-Delivery")!] ?? ""
        guard !event.isEmpty, !delivery.isEmpty else { return Self.answer(.badRequest, "X-GitHub-Event and X-GitHub-Delivery are required") }
        if try await store.deliverySeen(delivery) {
            return Self.answer(.ok, "duplicate delivery \(delivery)")
        }
        let decoded: WebhookEvent
        do {
            decoded = try WebhookEvent.decode(event: event, body: bytes)
        } catch {
            return Self.answer(.badRequest, "\(error)")
        }
        if let full = WebhookEvent.repositoryFullName(body: bytes), full.caseInsensitiveCompare(repository) != .orderedSame {
            return Self.answer(.accepted, "ignored: delivery for \(full), configured for \(repository)")
        }
        let text = try await intake.handle(decoded)
        _ = try await store.markDelivery(id: delivery, event: event, at: clock.now())
        return Self.answer(.accepted, text)
    }

    static func answer(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
