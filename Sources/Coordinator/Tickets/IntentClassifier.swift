import Foundation

/// Reads an issue's words to decide what is asked. Anything that sounds like a fault is a
/// problem report (it is never closed without a verified fix); only a plain request to look
/// is a status request. When in doubt: problem.
enum IntentClassifier {
    static let problemWords = [
        "not working", "doesn't work", "does not work", "isn't working", "is not working", "broken", "error", "fail",
        "stuck", "down", "crash", "can't", "cannot", "can not", "unable", "timeout", "timed out", "slow", "hang",
        "missing", "lost", "500", "502", "503", "504", "problem", "issue with", "won't", "doesn't", "no longer",
        "outage", "unreachable", "full", "pending forever",
    ]
    static let statusWords = [
        "status", "check", "health", "healthy", "is it up", "everything ok", "all good", "look at", "sanity",
        "verify", "how is", "ping",
    ]

    static func classify(title: String, body: String) -> TicketIntent {
        let text = (title + "\n" + body).lowercased()
        if problemWords.contains(where: { text.contains($0) }) { return .problem }
        if statusWords.contains(where: { text.contains($0) }) { return .status }
        return .problem
    }
}

/// Which host an issue is about: a `host:NAME` label, a `host: NAME` line in the body, or
/// the only host there is.
enum HostResolver {
    enum Outcome: Equatable, Sendable {
        case host(String)
        case ambiguous([String])
        case unknown(String, known: [String])
        case noHosts
    }

    static func resolve(labels: [String], body: String, hosts: [String]) -> Outcome {
        var named: [String] = labels.compactMap { label in
            let lower = label.lowercased()
            guard lower.hasPrefix("host:") else { return nil }
            return String(label.dropFirst(5)).trimmingCharacters(in: .whitespaces)
        }
        if named.isEmpty {
            for line in body.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                let stripped = trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") ? String(trimmed.dropFirst(2)) : trimmed
                if stripped.lowercased().hasPrefix("host:") {
                    let value = stripped.dropFirst(5).trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`*"))
                    if let word = value.split(separator: " ").first { named.append(String(word)) }
                }
            }
        }
        let unique = Array(Set(named)).sorted()
        if unique.count > 1 { return .ambiguous(unique) }
        if let name = unique.first {
            return hosts.contains(name) ? .host(name) : .unknown(name, known: hosts)
        }
        switch hosts.count {
        case 0: return .noHosts
        case 1: return .host(hosts[0])
        default: return .ambiguous(hosts)
        }
    }
}

/// `/fieldmedic VERB [ARG]` in a comment.
struct ChatCommand: Equatable, Sendable {
    enum Verb: String, Sendable, CaseIterable { case approve, deny, diagnose, dryRun = "dry-run", retry }
    var verb: Verb
    var argument: String?

    /// The first `/fieldmedic` line of the comment; nil when there is none. An unknown verb
    /// is reported as `.failure` so the author gets an answer.
    static func parse(_ body: String) -> Result<ChatCommand, ChatCommandError>? {
        for line in body.split(whereSeparator: \.isNewline) {
            let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first, first.lowercased() == "/fieldmedic" else { continue }
            guard words.count >= 2 else { return .failure(ChatCommandError(text: String(line))) }
            guard let verb = Verb(rawValue: words[1].lowercased()) else { return .failure(ChatCommandError(text: String(line))) }
            return .success(ChatCommand(verb: verb, argument: words.count > 2 ? String(words[2]) : nil))
        }
        return nil
    }
}

struct ChatCommandError: Error, Equatable, Sendable {
    var text: String
}
