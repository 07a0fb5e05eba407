import Crypto
import Foundation

/// A one-time join token: `fmj1.<secret>.<sha256 of the CA certificate's DER, hex>`.
///
/// The secret authorises one enrollment; the hash lets the agent pin the coordinator's CA
/// before it trusts anything the coordinator says (no trust on first use).
public struct JoinToken: Sendable, Equatable, RedactedReflection {
    public static let prefix = "fmj1"
    public let secret: Secret
    public let caFingerprint: String

    public init(secret: String, caFingerprint: String) {
        self.secret = Secret(secret)
        self.caFingerprint = caFingerprint
    }

    /// A fresh token with 32 random bytes of secret.
    public static func generate(caFingerprint: String) -> JoinToken {
        JoinToken(secret: Base64URL.encode(SecureRandom.bytes(32)), caFingerprint: caFingerprint)
    }

    public static func parse(_ text: String) throws(JoinTokenError) -> JoinToken {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("expected three parts separated by '.'") }
        guard parts[0] == prefix else { throw .malformed("it must start with \(prefix).") }
        let secret = String(parts[1])
        guard secret.utf8.count >= 32, Base64URL.decode(secret) != nil else {
            throw .malformed("the secret part is not base64url of at least 24 bytes")
        }
        let hash = String(parts[2]).lowercased()
        guard hash.utf8.count == 64, Hex.decode(hash) != nil else {
            throw .malformed("the CA hash part must be 64 hex digits")
        }
        return JoinToken(secret: secret, caFingerprint: hash)
    }

    /// What the coordinator stores: never the secret itself.
    public var secretHash: String { Hex.encode(SHA256.hash(data: secret.revealedBytes)) }

    /// A short, non-secret id for logs and the audit log.
    public var id: String { String(secretHash.prefix(12)) }

    /// The whole token, secret included: for the operator's terminal and the enroll request only.
    public var text: String { "\(Self.prefix).\(secret.revealed).\(caFingerprint)" }

    /// Never prints the secret.
    public var description: String { "join token \(id)" }
    public var redactedSummary: String { "id: \(id)" }
}

public enum JoinTokenError: Error, CustomStringConvertible, Equatable {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let why):
            return "the join token is malformed (\(why)); copy the last line printed by `fieldmedic-coordinator agents add NAME`"
        }
    }
}

public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { Array($0) }
    }
}
