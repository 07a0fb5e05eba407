import Crypto
import Foundation
import SwiftASN1
import X509

/// The coordinator's private CA: it signs the coordinator's server certificate and every
/// agent's client certificate. P-256 keys throughout.
///
/// Services that hold it are logged with `String(describing:)` by swift-service-lifecycle:
/// its description and reflection name the CA, never the key.
public struct CertificateAuthority: Sendable, RedactedReflection {
    public let certificate: Certificate
    private let key: Certificate.PrivateKey
    /// The private key as PKCS#8 PEM, for `init` to write to its 0600 file.
    public let keyPEM: Secret

    public init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.key = Certificate.PrivateKey(key)
        self.keyPEM = Secret(key.pemRepresentation + "\n")
    }

    public var redactedSummary: String { "subject: \(certificate.subject)" }

    /// Loads the CA from its certificate and key files (the key must be mode 0600).
    public init(certificatePath: String, keyPath: String) throws {
        self.init(
            certificate: try PEMFile.readCertificate(certificatePath, what: "CA certificate"),
            key: try PEMFile.readPrivateKey(keyPath, what: "CA private key"))
    }

    /// Makes a new self-signed CA valid for `validity` seconds.
    public static func create(commonName: String = "FieldMedic CA", validity: TimeInterval = 10 * 365 * 86_400, now: Date = Date()) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName("FieldMedic")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return CertificateAuthority(certificate: certificate, key: key)
    }

    public func fingerprint() throws -> String { try PEMFile.fingerprint(certificate) }

    /// A server certificate for the coordinator's agent listener, valid for the given DNS
    /// names and IP addresses.
    public func issueServerCertificate(
        names: [String], key serverKey: P256.Signing.PrivateKey, validity: TimeInterval = 825 * 86_400, now: Date = Date()
    ) throws -> Certificate {
        var sans: [GeneralName] = []
        for name in names {
            if let ip = IPAddressBytes.parse(name) {
                sans.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else if DNSName.isValid(name) {
                sans.append(.dnsName(name))
            } else {
                throw PKIError.invalidServerName(name)
            }
        }
        let publicKey = Certificate.PublicKey(serverKey.publicKey)
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("FieldMedic")
                CommonName(names.first ?? "fieldmedic-coordinator")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sans)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyIdentifier)
            },
            issuerPrivateKey: key)
    }

    /// Signs an agent's CSR after checking its self-signature. The identity comes from
    /// `agentName` (bound by the join token or the current certificate), never from the CSR.
    public func signAgentCertificate(
        csrPEM: String, agentName: String, validity: TimeInterval, now: Date = Date()
    ) throws -> Certificate {
        try AgentName.validate(agentName)
        let csr = try Self.checkedRequest(csrPEM)
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: csr.publicKey,
            // Back-dated a little: X.509 times have whole seconds, and peers' clocks drift.
            notValidBefore: now.addingTimeInterval(-min(300, validity / 10)),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("FieldMedic")
                CommonName(agentName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
                SubjectAlternativeNames([.uniformResourceIdentifier(AgentName.uri(for: agentName))])
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyIdentifier)
            },
            issuerPrivateKey: key)
    }

    /// A CSR that parses, is signed by its own key, and has a P-256 key; checked before a
    /// join token is spent on it.
    public static func checkedRequest(_ csrPEM: String) throws -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw PKIError.invalidPEM(what: "certificate signing request", reason: "\(error)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw PKIError.badCSRSignature
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw PKIError.csrKeyNotAllowed("\(csr.signatureAlgorithm)")
        }
        return csr
    }

    private var authorityKeyIdentifier: ArraySlice<UInt8>? {
        (try? certificate.extensions.subjectKeyIdentifier)??.keyIdentifier
    }
}

extension Certificate {
    /// The agent name from the `fieldmedic://agent/NAME` SAN URI, if the certificate has one.
    public var agentName: String? {
        guard let sans = try? extensions.subjectAlternativeNames else { return nil }
        for name in sans {
            if case .uniformResourceIdentifier(let uri) = name, let agent = AgentName.name(fromURI: uri) {
                return agent
            }
        }
        return nil
    }

    /// The serial number as lower-case hex without separators.
    public var serialHex: String { Hex.encode(serialNumber.bytes) }
}

extension Certificate.PublicKey {
    /// SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex: what the coordinator records
    /// at issue and checks on every request, so a certificate is only good with its own key.
    public var sha256Fingerprint: String {
        var serializer = DER.Serializer()
        // Serializing a parsed key cannot fail; fall back to the raw key bits if it ever did.
        guard (try? serializer.serialize(self)) != nil else { return Hex.encode(SHA256.hash(data: Array(subjectPublicKeyInfoBytes))) }
        return Hex.encode(SHA256.hash(data: serializer.serializedBytes))
    }
}

/// IPv4/IPv6 text → network-order bytes, for IP SANs.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

enum DNSName {
    static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "*") }
        }
    }
}
