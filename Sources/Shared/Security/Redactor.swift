import Foundation

/// Removes secrets from text before it is logged, stored or posted: values of keys named like
/// PASSWORD, SECRET, TOKEN or KEY, bearer tokens, join tokens and URL credentials.
public enum Redactor {
    public static let mask = "[REDACTED]"

    private static let patterns: [NSRegularExpression] = [
        // KEY=value, KEY: value, "key": "value" where the key names a secret.
        #"(?i)("?[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|_key)"?\s*[:=]\s*"?)([^\s"',;&]+)"#,
        // Authorization: Bearer xxx / Basic xxx
        #"(?i)(\b(?:bearer|basic|token)\s+)([A-Za-z0-9._~+/=-]{8,})"#,
        // FieldMedic join tokens
        #"(fmj1\.)([A-Za-z0-9_-]{16,})"#,
        // scheme://user:password@host
        #"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)"#,
        // GitHub tokens
        #"()\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"#,
    ].map { try! NSRegularExpression(pattern: $0) }

    public static func redact(_ text: String) -> String {
        var result = text
        for pattern in patterns {
            let range = NSRange(result.startIndex..., in: result)
            let template = pattern.numberOfCaptureGroups >= 3 ? "$1\(mask)$3" : "$1\(mask)"
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }
}
