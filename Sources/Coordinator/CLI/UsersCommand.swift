import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-coordinator users add|list|remove`: dashboard accounts, kept in the
/// coordinator's database (run on the coordinator's machine, as the user that owns data_dir).
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the web dashboard's accounts.",
        discussion: """
            Roles: viewer (reads every page), approver (also approves and denies plans, pauses and \
            resumes fixes, creates and expires silences), admin (everything an approver may). \
            Every change is written to the audit log.
            """,
        subcommands: [UsersAddCommand.self, UsersListCommand.self, UsersRemoveCommand.self])
}

struct UsersAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add an account, or set an existing one's role and password. The password is read from standard input (one line, at least 12 characters).",
        discussion: "Example: printf '%s\\n' \"$PASSWORD\" | fieldmedic-coordinator users add alice --role approver")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The account name (letters, digits, '.', '_', '-').") var name: String
    @Option(name: .long, help: "viewer, approver or admin.") var role: String

    func run() async throws {
        guard let role = WebRole(rawValue: role) else { throw UsageError("--role must be viewer, approver or admin, not \"\(role)\"") }
        do { try WebPassword.validate(name: name) } catch { throw UsageError(error.description) }
        let config = try options.load()
        let password = Secret(Self.readPassword())
        let hash: String
        do { hash = try WebPassword.hash(password) } catch { throw UsageError(error.description) }
        let store = try SQLiteCoordinatorStore.openInitialised(config.paths)
        let now = Date()
        let existing = try await store.webUser(named: name)
        let actor = "cli:\(OperatorClient.operatorName)"
        try await store.saveWebUser(
            WebUser(name: name, role: role, passwordHash: hash, createdAt: existing?.createdAt ?? now, updatedAt: now),
            audit: AuditEntry(at: now, actor: actor, action: existing == nil ? "web.user_added" : "web.user_changed", subject: "web:\(name)",
                              details: ["role": role.rawValue]))
        print("\(existing == nil ? "added" : "updated") \(name) (\(role.rawValue))")
    }

    /// One line from standard input; at a terminal, without echo.
    static func readPassword() -> String {
        if isatty(0) == 1, let typed = getpass("Password for the dashboard account: ") { return String(cString: typed) }
        return readLine(strippingNewline: true) ?? ""
    }
}

struct UsersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the dashboard's accounts and their roles.")

    @OptionGroup var options: ConfigOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let config = try options.load()
        let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
        let users = try await store.webUsers()
        if json {
            let rows = users.map { ["name": $0.name, "role": $0.role.rawValue, "updated_at": WireDate.format($0.updatedAt)] }
            print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        if users.isEmpty { print("no dashboard accounts; add one with `users add NAME --role viewer|approver|admin`"); return }
        print(TextTable.render(["NAME", "ROLE", "CHANGED"], users.map { [$0.name, $0.role.rawValue, WireDate.format($0.updatedAt)] }))
    }
}

struct UsersRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an account; its sessions end at their next request.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The account name.") var name: String

    func run() async throws {
        let config = try options.load()
        let store = try SQLiteCoordinatorStore.openInitialised(config.paths)
        let now = Date()
        guard try await store.removeWebUser(named: name, audit: AuditEntry(
            at: now, actor: "cli:\(OperatorClient.operatorName)", action: "web.user_removed", subject: "web:\(name)")) else {
            throw OperationalError(WebAccountError.unknown(name).description)
        }
        print("removed \(name)")
    }
}
