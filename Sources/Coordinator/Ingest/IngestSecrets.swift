import Foundation
import Shared

/// The ingest secrets, read and checked the same way by `serve` and `check-config`.
struct IngestSecrets: Sendable {
    let alertmanagerToken: Secret?
    let glitchtipToken: Secret?

    /// A GlitchTip token travels in the URL path: long and URL-safe, or it could be guessed or mangled.
    static let minimumGlitchTipTokenLength = 32

    static func load(_ config: IngestConfig) throws -> IngestSecrets {
        func read(_ path: String, _ what: String) throws -> Secret {
            let text = try SecretFile.readString(path, what: what).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw OperationalError("the \(what) in \(path) is empty; write the secret into it (mode 0600)") }
            return Secret(text)
        }
        let glitchtip = try config.glitchtipTokenFile.map { try read($0, "GlitchTip ingest token") }
        if let glitchtip, let path = config.glitchtipTokenFile {
            let text = glitchtip.revealed
            let safe = text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
            guard text.count >= minimumGlitchTipTokenLength, safe else {
                throw OperationalError("the GlitchTip ingest token in \(path) must be at least \(minimumGlitchTipTokenLength) characters of A-Z, a-z, 0-9, - and _ (it is part of the URL); make one with: head -c 32 /dev/urandom | base64 | tr -d '/+=' > \(path)")
            }
        }
        return IngestSecrets(alertmanagerToken: try config.alertmanagerTokenFile.map { try read($0, "Alertmanager ingest token") }, glitchtipToken: glitchtip)
    }
}
