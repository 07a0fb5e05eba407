import Foundation
import Shared

/// Paths of the operator API built from what an operator typed: a name is checked as an
/// agent name and escaped as one path segment, so it can never add or climb a segment
/// (`agents revoke 'x/../vps-2'` must not revoke vps-2).
enum OperatorPath {
    /// `/operator/agents/NAME` followed by `suffix` (e.g. `/revoke`).
    static func agent(_ name: String, _ suffix: String = "") throws -> String {
        do { try AgentName.validate(name) } catch { throw UsageError(error.description) }
        return "/operator/agents/" + segment(name) + suffix
    }

    /// One path segment: everything but unreserved characters percent-encoded, and the dot
    /// segments `.` and `..` encoded too (clients resolve them before sending).
    static func segment(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let escaped = text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        if escaped.isEmpty || escaped.allSatisfy({ $0 == "." }) {
            return escaped.replacingOccurrences(of: ".", with: "%2E")
        }
        return escaped
    }
}
