import Crypto
import Foundation
import Shared

/// A signed-in person: who, with which role, and the CSRF token every form of theirs carries.
struct WebSession: Sendable, Equatable {
    var user: String
    var role: WebRole
    var csrf: String
    var expiresAt: Date
    /// The password hash at sign-in: a new password ends the session.
    var credential: String

    /// The name written into audit rows and ticket timelines.
    var actor: String { "web:\(user)" }
}

/// Sessions live in memory, keyed by the SHA-256 of the cookie (a memory dump does not hold
/// usable cookies); a restarted coordinator signs everyone out.
actor WebSessions {
    private var sessions: [String: WebSession] = [:]
    let lifetime: TimeInterval
    /// More than this many sessions: the oldest go first (bounded memory whatever happens).
    static let capacity = 10_000

    init(lifetime: TimeInterval) {
        self.lifetime = lifetime
    }

    /// A new session; returns the cookie value (shown to no one but the browser).
    func create(user: String, role: WebRole, credential: String, now: Date) -> (cookie: String, session: WebSession) {
        sessions = sessions.filter { $0.value.expiresAt > now }
        if sessions.count >= Self.capacity, let oldest = sessions.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
            sessions[oldest.key] = nil
        }
        let cookie = WebToken.random()
        let session = WebSession(user: user, role: role, csrf: WebToken.random(), expiresAt: now.addingTimeInterval(lifetime), credential: credential)
        sessions[Self.key(cookie)] = session
        return (cookie, session)
    }

    func session(cookie: String, now: Date) -> WebSession? {
        let key = Self.key(cookie)
        guard let session = sessions[key] else { return nil }
        guard session.expiresAt > now else {
            sessions[key] = nil
            return nil
        }
        return session
    }

    func end(cookie: String) {
        sessions[Self.key(cookie)] = nil
    }

    /// Signs a removed or demoted account out everywhere.
    func end(user: String) {
        sessions = sessions.filter { $0.value.user != user }
    }

    private static func key(_ cookie: String) -> String {
        SHA256.hash(data: Data(cookie.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Failed logins per account and per client address within a window; over the limit, even
/// a right password is refused until the window has passed (and nothing is verified, so the
/// refusal is cheap).
actor LoginThrottle {
    private var failures: [String: [Date]] = [:]
    let limit: Int
    let window: TimeInterval

    init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until the next attempt is allowed for these keys; nil when it is allowed now.
    func blocked(_ keys: [String], now: Date) -> TimeInterval? {
        var wait: TimeInterval?
        for key in keys {
            let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
            failures[key] = recent.isEmpty ? nil : recent
            if recent.count >= limit, let oldest = recent.first {
                wait = max(wait ?? 0, window - now.timeIntervalSince(oldest))
            }
        }
        return wait
    }

    func fail(_ keys: [String], now: Date) {
        if failures.count > 100_000 { failures = failures.filter { ($0.value.last.map { now.timeIntervalSince($0) < window }) ?? false } }
        for key in keys { failures[key, default: []].append(now) }
    }

    func succeed(_ key: String) {
        failures[key] = nil
    }
}

enum WebToken {
    /// 32 random bytes, URL-safe base64 without padding.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
