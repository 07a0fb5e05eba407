import Crypto
import Foundation
import X509

/// The agent's own P-256 key: generated on the host, stored mode 0600, never sent anywhere.
public struct AgentKey: RedactedReflection {
    public let key: P256.Signing.PrivateKey

    public init(key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) {
        self.key = key
    }

    public var pem: String { key.pemRepresentation + "\n" }

    public var redactedSummary: String { "P-256" }

    /// A CSR for this key; the coordinator decides the identity, the CSR only proves the key.
    public func certificateSigningRequest(name: String) throws -> String {
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(name) },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256)
        return try csr.serializeAsPEM().pemString + "\n"
    }
}
