import Foundation
import HummingbirdBcrypt
import Shared

/// What a dashboard account may do: viewers read; approvers also approve, deny, pause,
/// resume and silence; admins may do everything an approver may (accounts themselves are
/// managed with `users` on the coordinator's own machine).
enum WebRole: String, Codable, Sendable, CaseIterable, Comparable {
    case viewer, approver, admin

    private var rank: Int { WebRole.allCases.firstIndex(of: self)! }
    static func < (a: WebRole, b: WebRole) -> Bool { a.rank < b.rank }
}

struct WebUser: Sendable, Equatable {
    var name: String
    var role: WebRole
    /// bcrypt, `$2b$…`; never the password.
    var passwordHash: String
    var createdAt: Date
    var updatedAt: Date
}

enum WebAccountError: Error, CustomStringConvertible, Equatable {
    case badName(String)
    case weakPassword
    case unknown(String)

    var description: String {
        switch self {
        case .badName(let name): "user name \"\(name.prefix(64))\" must be 1 to 64 letters, digits, '.', '_' or '-'"
        case .weakPassword: "the password must be at least 12 characters (read from standard input, one line)"
        case .unknown(let name): "no dashboard user \"\(name)\"; see `fieldmedic-coordinator users list`"
        }
    }
}

/// Names and passwords: checked here so that the CLI and tests apply the same rules.
enum WebPassword {
    static let minimumLength = 12
    /// bcrypt's cost for new hashes: about a quarter second per login on a small server.
    static let cost: UInt8 = 12

    static func validate(name: String) throws(WebAccountError) {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw .badName(name)
        }
    }

    static func hash(_ password: Secret, cost: UInt8 = WebPassword.cost) throws(WebAccountError) -> String {
        guard password.revealed.count >= minimumLength else { throw .weakPassword }
        return Bcrypt.hash(password.revealed, cost: cost)
    }

    /// A hash no password matches, verified for unknown names so that a wrong name takes as
    /// long as a wrong password (no user enumeration by timing).
    static let decoy = Bcrypt.hash("fieldmedic-decoy-\(UUID().uuidString)", cost: cost)

    static func verify(_ password: String, user: WebUser?) -> Bool {
        guard let user else {
            _ = Bcrypt.verify(password, hash: decoy)
            return false
        }
        return Bcrypt.verify(password, hash: user.passwordHash)
    }
}

/// Where the accounts live (the coordinator's database).
protocol WebAccountStore: Sendable {
    func webUser(named name: String) async throws -> WebUser?
    func webUsers() async throws -> [WebUser]
    /// Adds the user, or replaces the role and password of an existing one.
    func saveWebUser(_ user: WebUser, audit: AuditEntry) async throws
    func removeWebUser(named name: String, audit: AuditEntry) async throws -> Bool
}
