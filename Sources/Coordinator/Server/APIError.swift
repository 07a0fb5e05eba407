import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Shared

/// An error answered as JSON `{"error": code, "message": text}`.
struct APIError: HTTPResponseError, CustomStringConvertible {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    init(_ error: FleetError) {
        self.init(HTTPResponse.Status(code: error.status), error.code, error.description)
    }

    init(_ error: WireError) {
        switch error {
        case .malformed: self.init(.badRequest, "malformed", error.description)
        case .unsupportedVersion: self.init(.badRequest, "unsupported_version", error.description)
        }
    }

    var description: String { "\(status.code) \(code): \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(APIErrorBody(error: code, message: message), status: status)
    }
}

enum JSONResponse {
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? WireCodec.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Request {
    /// The body, refused with 413 past `limit` bytes.
    func collectBody(limit: Int) async throws -> Data {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "body_too_large", "request body of \(length) bytes is over the limit of \(limit) bytes")
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "request body is over the limit of \(limit) bytes")
        }
    }

    /// A versioned JSON body, or a 400/413 that says what was wrong.
    func decodeBody<T: VersionedBody>(_ type: T.Type, limit: Int) async throws -> T {
        let data = try await collectBody(limit: limit)
        do {
            return try WireCodec.decode(T.self, from: data)
        } catch {
            throw APIError(error)
        }
    }
}
