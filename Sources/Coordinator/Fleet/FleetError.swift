/// Why the coordinator refused an agent's request. Each case maps to one HTTP status and a
/// stable error code, and its text is what both sides log.
enum FleetError: Error, CustomStringConvertible, Equatable {
    case tokenUnknown
    case tokenUsed(id: String)
    case tokenExpired(id: String)
    case tokenWrongName(id: String, boundTo: String, asked: String)
    case tokenForOtherCA
    case tokenInvalidated(id: String)
    case renewalKeyChanged(String)
    case badRequest(String)
    case unknownAgent(String)
    case agentExists(String)
    case revoked(String)
    case notFound(String)

    var status: Int {
        switch self {
        case .tokenUnknown, .tokenUsed, .tokenExpired, .tokenWrongName, .tokenForOtherCA, .tokenInvalidated, .renewalKeyChanged: return 403
        case .badRequest: return 400
        case .unknownAgent, .notFound: return 404
        case .agentExists: return 409
        case .revoked: return 403
        }
    }

    var code: String {
        switch self {
        case .tokenUnknown: return "token_unknown"
        case .tokenUsed: return "token_used"
        case .tokenExpired: return "token_expired"
        case .tokenWrongName: return "token_wrong_name"
        case .tokenForOtherCA: return "token_other_ca"
        case .tokenInvalidated: return "token_invalidated"
        case .renewalKeyChanged: return "renewal_key_changed"
        case .badRequest: return "bad_request"
        case .unknownAgent: return "unknown_agent"
        case .agentExists: return "agent_exists"
        case .revoked: return "revoked"
        case .notFound: return "not_found"
        }
    }

    var description: String {
        switch self {
        case .tokenUnknown:
            return "join token not recognised: make a new one with `fieldmedic-coordinator agents add NAME`"
        case .tokenUsed(let id):
            return "join token \(id) was already used; tokens work once: make a new one with `fieldmedic-coordinator agents add NAME`"
        case .tokenExpired(let id):
            return "join token \(id) has expired; make a new one with `fieldmedic-coordinator agents add NAME`"
        case .tokenWrongName(let id, let boundTo, let asked):
            return "join token \(id) is for agent \"\(boundTo)\", not \"\(asked)\"; enroll with --name \(boundTo) or make a token for \(asked)"
        case .tokenForOtherCA:
            return "join token was made by another coordinator (its CA hash does not match this coordinator's CA)"
        case .tokenInvalidated(let id):
            return "join token \(id) is no longer valid: a newer token was made for this name, or the agent enrolled or was revoked; use the token printed last by `fieldmedic-coordinator agents add NAME`"
        case .renewalKeyChanged(let name):
            return "renewal for \(name) asks for a certificate for another key than the current one; a new key needs a new enrollment (`fieldmedic-coordinator agents revoke \(name)`, then `agents add \(name)`)"
        case .badRequest(let why): return why
        case .unknownAgent(let name): return "no agent named \"\(name)\"; see `fieldmedic-coordinator agents list`"
        case .agentExists(let name):
            return "agent \"\(name)\" is already enrolled; revoke it first with `fieldmedic-coordinator agents revoke \(name)` to enroll it again"
        case .revoked(let name): return "agent \"\(name)\" is revoked"
        case .notFound(let what): return "\(what) not found"
        }
    }
}
