import Hummingbird
import Logging
import NIOCore

/// Lets a GitHub delivery through only with a valid `X-Hub-Signature-256` over its raw body
/// (checked in constant time before anything parses or stores it); the handler gets the body
/// it checked. It sits on the group the webhook route is added to (see `WebhookAPI.makeRouter`).
///
/// ```swift
/// let signed = router.group().add(middleware: WebhookSignatureMiddleware(verifier: verifier, logger: logger))
/// signed.post("/github/webhook") { request, context in ... }
/// ```
struct WebhookSignatureMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let verifier: WebhookVerifier
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: WebhookAPI.maxBodyBytes)
        } catch {
            return WebhookAPI.answer(.contentTooLarge, "body over \(WebhookAPI.maxBodyBytes) bytes")
        }
        guard verifier.isValid(body: body.readableBytesView, signatureHeader: request.headers[.init("X-Hub-Signature-256")!]) else {
            logger.warning("webhook delivery refused: bad or missing signature", metadata: ["delivery": "\(request.headers[.init("X-GitHub-Delivery")!] ?? "-")"])
            return WebhookAPI.answer(.unauthorized, "signature does not match")
        }
        request.body = RequestBody(buffer: body)
        return try await next(request, context)
    }
}
