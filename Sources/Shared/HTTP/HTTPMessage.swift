import Foundation

/// A request for `CurlHTTPClient`.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    /// Whole-transfer deadline.
    public var timeout: TimeInterval
    public var connectTimeout: TimeInterval
    /// Collect the server's certificate chain fields (curl's CERTINFO) into the response.
    public var captureCertificates = false

    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
        timeout: TimeInterval = 30, connectTimeout: TimeInterval = 10
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data
    /// With `captureCertificates`: one dictionary per certificate of the server's chain,
    /// leaf first, e.g. "Expire date" → "Nov 22 13:51:20 2027 GMT".
    public var certificates: [[String: String]] = []

    public init(status: Int, headers: [(String, String)], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The last value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// Why a transfer failed before any HTTP status was had.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case couldNotResolve, couldNotConnect, timedOut, tlsHandshake, tlsPeerVerification, tlsLocalCertificate
        case connectionLost, responseTooLarge, aborted, other
    }

    public var kind: Kind
    public var code: Int
    public var url: String
    public var detail: String

    public init(kind: Kind, code: Int, url: String, detail: String) {
        self.kind = kind
        self.code = code
        self.url = url
        self.detail = detail
    }

    public var description: String {
        let what: String
        switch kind {
        case .couldNotResolve: what = "cannot resolve the host name"
        case .couldNotConnect: what = "cannot connect (is the server running and the port open?)"
        case .timedOut: what = "timed out"
        case .tlsHandshake: what = "TLS handshake failed"
        case .tlsPeerVerification: what = "the server's certificate was not accepted"
        case .tlsLocalCertificate: what = "this side's certificate or key cannot be used"
        case .connectionLost: what = "the connection was closed before the answer was complete"
        case .responseTooLarge: what = "the answer is larger than allowed"
        case .aborted: what = "aborted"
        case .other: what = "transfer failed"
        }
        return "\(url): \(what) (curl \(code): \(detail))"
    }
}

/// A flag another thread sets to end a transfer early (shutdown during a long-poll).
public final class AbortFlag: Sendable {
    private let state = LockedValue(false)
    public init() {}
    public var isSet: Bool { state.value }
    public func set() { state.value = true }
}
