import Shared

/// Why a call to the coordinator failed, in words for `journalctl`.
enum ChannelError: Error, CustomStringConvertible {
    /// Network, TLS or timeout: worth retrying later.
    case unreachable(HTTPClientError)
    /// The coordinator refused us (401/403): retrying will not help until an operator acts.
    case rejected(status: Int, code: String, message: String)
    /// Anything else the coordinator answered that we did not expect.
    case unexpected(status: Int, message: String)
    case malformedAnswer(String)

    var isRetryable: Bool {
        switch self {
        case .unreachable: return true
        case .unexpected(let status, _): return status >= 500 || status == 429
        case .rejected, .malformedAnswer: return false
        }
    }

    var description: String {
        switch self {
        case .unreachable(let error): return "coordinator unreachable: \(error)"
        case .rejected(let status, let code, let message): return "coordinator refused the request (\(status) \(code)): \(message)"
        case .unexpected(let status, let message): return "coordinator answered \(status): \(message)"
        case .malformedAnswer(let why): return "coordinator sent an answer this agent cannot read: \(why)"
        }
    }
}
