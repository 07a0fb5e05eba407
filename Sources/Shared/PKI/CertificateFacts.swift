import Crypto
import Foundation
import SwiftASN1
import X509

/// What tells two certificates apart for an operator: fingerprint, serial, validity, names.
/// Read from PEM, so that the chain a server sends (curl hands it over as PEM) and the file
/// on disk are compared by one parser.
public struct CertificateFacts: Sendable, Equatable {
    /// SHA-256 of the DER, lower-case hex.
    public var sha256: String
    /// The serial number, lower-case hex.
    public var serial: String
    public var notBefore: Date
    public var notAfter: Date
    public var subject: String
    public var issuer: String

    /// A root (or a self-signed certificate): it names itself as its issuer.
    public var isSelfIssued: Bool { subject == issuer }

    /// "serial 0a1b…, valid until 2027-02-28T12:00:00Z".
    public var summary: String { "serial \(serial), valid until \(WireDate.format(notAfter))" }
}

extension CertificateFacts {
    public init(_ certificate: Certificate) throws {
        self.init(
            sha256: try PEMFile.fingerprint(certificate), serial: Hex.encode(certificate.serialNumber.bytes),
            notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter,
            subject: certificate.subject.description, issuer: certificate.issuer.description)
    }

    /// Every certificate of a PEM text, in file order (a chain file starts with the leaf);
    /// other blocks (a private key in the same file) are skipped.
    public static func chain(fromPEM text: String, what: String) throws -> [CertificateFacts] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw PKIError.invalidPEM(what: what, reason: "\(error)")
        }
        var chain: [CertificateFacts] = []
        for document in documents where document.discriminator == "CERTIFICATE" {
            do {
                chain.append(try CertificateFacts(Certificate(derEncoded: document.derBytes)))
            } catch {
                throw PKIError.invalidPEM(what: what, reason: "\(error)")
            }
        }
        guard !chain.isEmpty else { throw PKIError.invalidPEM(what: what, reason: "no CERTIFICATE block") }
        return chain
    }
}
