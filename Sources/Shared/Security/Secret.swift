/// A key, token or password that no logger, debugger, `dump` or `String(describing:)` can
/// print: its description and its reflection say only that something is redacted.
///
/// ```swift
/// let token = Secret(try SecretFile.readString(path, what: "operator token"))
/// logger.debug("loaded \(token)")              // loaded [REDACTED]
/// guard token.matches(presented) else { ... }  // constant time
/// request.headers.append(("Authorization", "Bearer \(token.revealed)"))
/// ```
///
/// `revealed` is the one way out, for the place that must send, sign with or store the value.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let bytes: [UInt8]

    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value as text, for the one place that must use it.
    public var revealed: String { String(decoding: bytes, as: UTF8.self) }

    /// The value as bytes (an HMAC key, a PEM for a TLS library).
    public var revealedBytes: [UInt8] { bytes }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Whether `presented` is this secret, compared in constant time.
    public func matches(_ presented: String) -> Bool {
        ConstantTime.equals(Array(presented.utf8), bytes)
    }

    public static let redactedText = "[REDACTED]"
    public var description: String { Self.redactedText }
    public var debugDescription: String { Self.redactedText }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    // Hashable by value so Sets of secrets work, but `==` compares in constant time.
    public static func == (a: Secret, b: Secret) -> Bool { ConstantTime.equals(a.bytes, b.bytes) }
}

/// A type that carries a secret and says so in its description and reflection: it prints its
/// name and the non-secret `redactedSummary`, never its stored properties.
public protocol RedactedReflection: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What may be printed about this value, e.g. a token id or a certificate subject.
    var redactedSummary: String { get }
}

extension RedactedReflection {
    public var description: String { "\(Self.self)(\(redactedSummary), secrets \(Secret.redactedText))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["summary": redactedSummary], displayStyle: .struct) }
}
