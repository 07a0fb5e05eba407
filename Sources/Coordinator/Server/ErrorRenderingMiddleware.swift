import Foundation
import Hummingbird
import Logging
import Shared

/// Turns what a handler did not expect into an answer that says why, and a log line: a full
/// disk is a 503 with a message and an error line naming it (D7), anything else a 500 with
/// a message pointing at the log. Errors that are already HTTP answers pass through.
///
/// ```swift
/// router.add(middleware: ErrorRenderingMiddleware(logger: logger))   // on every listener
/// ```
struct ErrorRenderingMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    /// The request path as the log may show it: a listener whose paths carry a secret (the
    /// GlitchTip token) redacts it here.
    var pathForLog: @Sendable (String) -> String = { $0 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch where SQLiteStore.isDiskFull(error) {
            logger.error("cannot write the database: the disk is full; free space on the coordinator's data_dir", metadata: [
                "request": "\(request.method) \(pathForLog(request.uri.path))", "error": "\(error)"])
            throw APIError(.serviceUnavailable, "disk_full", "the coordinator cannot write its database because its disk is full; retry later")
        } catch {
            logger.error("request failed", metadata: ["request": "\(request.method) \(pathForLog(request.uri.path))", "error": "\(error)"])
            throw APIError(.internalServerError, "internal_error", "the coordinator could not handle this request; its log says why")
        }
    }
}
