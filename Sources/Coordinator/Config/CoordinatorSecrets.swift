import Foundation
import Shared

/// The secrets `coordinator.toml` points to, read and checked the same way by `serve` and
/// `check-config` (one validation path: what one accepts, the other accepts).
struct CoordinatorSecrets: Sendable {
    let operatorToken: Secret
    let githubToken: Secret?
    let webhookSecret: Secret?

    static func load(_ config: CoordinatorConfig) throws -> CoordinatorSecrets {
        func read(_ path: String, _ what: String) throws -> Secret {
            let text = try SecretFile.readString(path, what: what).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw OperationalError("the \(what) in \(path) is empty; write the secret into it (mode 0600)") }
            return Secret(text)
        }
        let github = config.tickets.github
        return CoordinatorSecrets(
            operatorToken: try read(config.paths.operatorToken, "operator token"),
            githubToken: try github?.tokenFile.map { try read($0, "GitHub token") },
            webhookSecret: try github?.webhookSecretFile.map { try read($0, "GitHub webhook secret") })
    }
}
