import Crypto
import Foundation
import Shared

/// Checks GitHub's `X-Hub-Signature-256` header: `sha256=` and the lowercase hex HMAC-SHA256
/// of the raw body, keyed with the webhook secret.
///
/// ```swift
/// let verifier = WebhookVerifier(secret: Array(secret.utf8))
/// guard verifier.isValid(body: raw, signatureHeader: request.headers["X-Hub-Signature-256"]) else { return 401 }
/// ```
struct WebhookVerifier: Sendable {
    // Bytes rather than a SymmetricKey, which is not Sendable; in a Secret, which never prints.
    private let secret: Secret

    init(secret: [UInt8]) {
        self.secret = Secret(bytes: secret)
    }

    /// False for a missing or malformed header as for a wrong signature. Verify the bytes as
    /// they arrived: re-encoded JSON would not match.
    func isValid(body: some DataProtocol, signatureHeader: String?) -> Bool {
        guard let header = signatureHeader?.trimmingCharacters(in: .whitespaces) else { return false }
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret.revealedBytes))
        let expected = "sha256=" + Hex.encode(Array(code))
        // Compared in constant time over the whole expected length, so a guess learns nothing
        // from how long the comparison took; a header of another length or case just differs.
        return ConstantTime.equals(Array(expected.utf8), Array(header.utf8))
    }
}
