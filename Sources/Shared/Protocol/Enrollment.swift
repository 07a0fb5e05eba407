import Foundation

/// `POST /v1/enroll`: a one-time join token and a CSR for the agent's own key.
///
/// The token is on the wire as text (JSON), but the value never prints.
public struct EnrollRequest: VersionedBody, Equatable, RedactedReflection {
    public var version: Int
    public var token: String
    public var name: String
    public var csrPEM: String

    public init(token: String, name: String, csrPEM: String) {
        self.version = WireCodec.version
        self.token = token
        self.name = name
        self.csrPEM = csrPEM
    }

    public var redactedSummary: String { "name: \(name.prefix(64))" }
}

/// The coordinator's answer to an enrollment or a renewal: the signed client certificate.
public struct CertificateGrant: VersionedBody, Equatable {
    public var version: Int
    public var agent: String
    public var certificatePEM: String
    public var caPEM: String
    public var serial: String
    public var notAfter: Date

    public init(agent: String, certificatePEM: String, caPEM: String, serial: String, notAfter: Date) {
        self.version = WireCodec.version
        self.agent = agent
        self.certificatePEM = certificatePEM
        self.caPEM = caPEM
        self.serial = serial
        self.notAfter = notAfter
    }
}

/// `POST /v1/renew`: a fresh CSR, sent over mTLS with the current certificate.
public struct RenewRequest: VersionedBody, Equatable {
    public var version: Int
    public var csrPEM: String

    public init(csrPEM: String) {
        self.version = WireCodec.version
        self.csrPEM = csrPEM
    }
}

/// The JSON body of every error the coordinator answers with.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}
