/// Why a certificate, key, CSR or token was refused. Texts are written for the operator.
public enum PKIError: Error, CustomStringConvertible, Equatable {
    case unreadable(what: String, path: String, reason: String)
    case invalidPEM(what: String, reason: String)
    case badCSRSignature
    case csrKeyNotAllowed(String)
    case invalidAgentName(String)
    case noAgentIdentity
    case invalidServerName(String)

    public var description: String {
        switch self {
        case .unreadable(let what, let path, let reason):
            return "cannot read \(what) at \(path): \(reason)"
        case .invalidPEM(let what, let reason):
            return "\(what) is not valid PEM: \(reason)"
        case .badCSRSignature:
            return "the certificate signing request is not signed by the key it carries"
        case .csrKeyNotAllowed(let kind):
            return "the certificate signing request uses a \(kind) key; agents must use ECDSA P-256"
        case .invalidAgentName(let name):
            return "invalid agent name \"\(name)\": use 1 to 63 characters from a-z, 0-9, '.', '-', '_', starting with a letter or digit"
        case .noAgentIdentity:
            return "the certificate carries no fieldmedic://agent/NAME identity"
        case .invalidServerName(let name):
            return "invalid server name \"\(name)\": give a DNS name or an IP address"
        }
    }
}
