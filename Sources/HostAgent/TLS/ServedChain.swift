import Foundation
import Shared

/// The certificates a TLS server sends in its handshake, leaf first, and whether a client
/// that verifies (with the system's CAs, or `caFile`) accepts them.
struct ServedChain: Sendable {
    var certificates: [CertificateFacts]
    /// curl's `Expire date` of the leaf: kept when a certificate's PEM does not parse.
    var leafExpiry: Date?
    var verificationError: String?

    /// One handshake (two when verification fails: the chain is then read without it).
    static func fetch(url: String, caFile: String?) -> ServedChain {
        var request = HTTPRequest(url: url, timeout: 15, connectTimeout: 5)
        request.captureCertificates = true
        // Only the handshake matters: stop reading at the first bytes of the body.
        let stopAtBody: (Data) -> Bool = { _ in false }
        var verificationError: String?
        var chain: [[String: String]] = []
        do {
            chain = try CurlHTTPClient(tls: CurlTLSOptions(caFile: caFile)).perform(request, onChunk: stopAtBody).certificates
        } catch {
            verificationError = error.description
            if let unverified = try? CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: false)).perform(request, onChunk: stopAtBody) {
                chain = unverified.certificates
            }
        }
        var certificates: [CertificateFacts] = []
        for (index, fields) in chain.enumerated() {
            guard let pem = fields["Cert"], let parsed = try? CertificateFacts.chain(fromPEM: pem, what: "certificate \(index) served by \(url)") else { break }
            certificates += parsed
        }
        return ServedChain(
            certificates: certificates, leafExpiry: chain.first?["Expire date"].flatMap(TLSProbe.parseCurlDate),
            verificationError: verificationError)
    }

    /// The issuer of the chain's last certificate, unless that one is a root: a client must
    /// find it in its own trust store. For a complete chain that is a root CA; when it is an
    /// intermediate, clients that do not fetch it themselves fail (Android: "Could not find
    /// the certificate issuer", QFieldCloud #956).
    static func unservedIssuer(_ chain: [CertificateFacts]) -> String? {
        guard let last = chain.last, !last.isSelfIssued else { return nil }
        return chain.contains { $0.subject == last.issuer } ? nil : last.issuer
    }
}
