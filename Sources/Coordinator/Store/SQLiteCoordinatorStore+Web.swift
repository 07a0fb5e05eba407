import Foundation
import GRDB
import Shared

/// Dashboard accounts and the few bounded queries the dashboard and /metrics need (pages
/// must not load every ticket or every audit row to show fifty).
extension SQLiteCoordinatorStore: WebAccountStore {
    func webUser(named name: String) async throws -> WebUser? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM web_users WHERE name = ?", arguments: [name]).flatMap(Self.webUser) }
    }

    func webUsers() async throws -> [WebUser] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM web_users ORDER BY name").compactMap(Self.webUser) }
    }

    func saveWebUser(_ user: WebUser, audit: AuditEntry) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO web_users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, updated_at = excluded.updated_at
                    """,
                arguments: [user.name, user.role.rawValue, user.passwordHash, WireDate.format(user.createdAt), WireDate.format(user.updatedAt)])
            try Self.append(audit, in: db)
        }
    }

    func removeWebUser(named name: String, audit: AuditEntry) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM web_users WHERE name = ?", arguments: [name])
            guard db.changesCount > 0 else { return false }
            try Self.append(audit, in: db)
            return true
        }
    }

    private static func webUser(_ row: Row) -> WebUser? {
        guard let role = WebRole(rawValue: row["role"]) else { return nil }
        return WebUser(name: row["name"], role: role, passwordHash: row["password_hash"],
                       createdAt: WireDate.parse(row["created_at"]) ?? .distantPast, updatedAt: WireDate.parse(row["updated_at"]) ?? .distantPast)
    }
}

/// What the fleet page shows of a host's newest report, read by SQLite's JSON functions
/// (decoding a thousand whole reports per page view would cost more than the page).
struct HostReportFacts: Sendable, Equatable {
    var agentVersion: String?
    var critical: Int
    var warning: Int
    var info: Int
}

/// An open ticket as the fleet page lists it.
struct TicketHead: Sendable, Equatable {
    var id: Int64
    var host: String?
    var state: String
}

/// A ticket as a list shows it, read with SQLite's JSON functions: the title, the issue and
/// the findings its priority comes from, not the whole document (timeline, reports, plan).
struct TicketLine: Sendable, Equatable {
    var id: Int64
    var host: String?
    var state: String
    var title: String
    var issueNumber: Int?
    var updatedAt: Date
    var targets: [Finding]
    var seeds: [Finding]?

    func priority(_ playbook: Playbook) -> TicketPriority { TicketPriority.of(targets: targets, seeds: seeds, playbook) }
}

/// Read-only views for the dashboard and /metrics.
protocol DashboardStore: Sendable {
    /// Every agent's newest report, reduced to what the fleet page shows, in one query.
    func hostReportFacts() async throws -> [String: HostReportFacts]
    func openTicketHeads() async throws -> [TicketHead]
    /// Tickets, newest first, filtered in SQL, at most `limit`.
    func tickets(host: String?, state: TicketState?, openOnly: Bool, limit: Int) async throws -> [Ticket]
    /// The same, as list lines, skipping `offset` (an index on updated_at keeps this a short
    /// walk whatever the store holds).
    func ticketLines(host: String?, state: TicketState?, openOnly: Bool, limit: Int, offset: Int) async throws -> [TicketLine]
    func ticketCounts() async throws -> (byState: [String: Int], bySource: [String: Int])
    /// The newest audit rows, filtered by a substring of actor, action or subject.
    func recentAudit(matching filter: String?, limit: Int) async throws -> [AuditRecord]
    func auditRowCount() async throws -> Int
}

extension SQLiteCoordinatorStore: DashboardStore {
    func hostReportFacts() async throws -> [String: HostReportFacts] {
        try await pool.read { db in
            var facts: [String: HostReportFacts] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT a.name AS name, json_extract(r.body, '$.agentVersion') AS version,
                       (SELECT COUNT(*) FROM json_each(r.body, '$.findings') f WHERE json_extract(f.value, '$.severity') = 'critical') AS critical,
                       (SELECT COUNT(*) FROM json_each(r.body, '$.findings') f WHERE json_extract(f.value, '$.severity') = 'warning') AS warning,
                       (SELECT COUNT(*) FROM json_each(r.body, '$.findings') f WHERE json_extract(f.value, '$.severity') = 'info') AS info
                FROM agents a JOIN health_reports r ON r.id = a.last_report_id
                """)
            for row in rows {
                let name: String = row["name"]
                let version: String? = row["version"]
                let critical: Int = row["critical"] ?? 0
                let warning: Int = row["warning"] ?? 0
                let info: Int = row["info"] ?? 0
                facts[name] = HostReportFacts(agentVersion: version, critical: critical, warning: warning, info: info)
            }
            return facts
        }
    }

    func openTicketHeads() async throws -> [TicketHead] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, host, state FROM tickets WHERE open = 1 ORDER BY id").map { row in
                TicketHead(id: row["id"], host: row["host"], state: row["state"])
            }
        }
    }

    /// The WHERE clause (or nothing) and its arguments of a ticket list's filter.
    private static func ticketFilter(host: String?, state: TicketState?, openOnly: Bool) -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let host { clauses.append("host = ?"); arguments += [host] }
        if let state { clauses.append("state = ?"); arguments += [state.rawValue] }
        if openOnly { clauses.append("open = 1") }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    func tickets(host: String?, state: TicketState?, openOnly: Bool, limit: Int) async throws -> [Ticket] {
        var (filter, arguments) = Self.ticketFilter(host: host, state: state, openOnly: openOnly)
        arguments += [limit]
        let bound = arguments
        let sql = "SELECT id, doc FROM tickets \(filter) ORDER BY updated_at DESC, id DESC LIMIT ?"
        let rows: [(Int64, String)] = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in (row["id"], row["doc"]) }
        }
        var tickets: [Ticket] = []
        for (id, doc) in rows {
            guard var ticket = try? WireCodec.decodeStored(Ticket.self, from: Data(doc.utf8)) else { continue }
            ticket.id = id
            tickets.append(ticket)
        }
        return tickets
    }

    func ticketLines(host: String?, state: TicketState?, openOnly: Bool, limit: Int, offset: Int) async throws -> [TicketLine] {
        var (filter, arguments) = Self.ticketFilter(host: host, state: state, openOnly: openOnly)
        arguments += [limit, max(0, offset)]
        let bound = arguments
        let sql = """
            SELECT id, host, state, updated_at, json_extract(doc, '$.title') AS title, json_extract(doc, '$.issueNumber') AS issue,
                   json_extract(doc, '$.targets') AS targets, json_extract(doc, '$.seeds') AS seeds
            FROM tickets \(filter) ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?
            """
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                let targets: String? = row["targets"]
                let seeds: String? = row["seeds"]
                return TicketLine(
                    id: row["id"], host: row["host"], state: row["state"], title: row["title"] ?? "",
                    issueNumber: row["issue"], updatedAt: WireDate.parse(row["updated_at"]) ?? .distantPast,
                    targets: targets.flatMap { try? WireCodec.decodeStored([Finding].self, from: Data($0.utf8)) } ?? [],
                    seeds: seeds.flatMap { try? WireCodec.decodeStored([Finding].self, from: Data($0.utf8)) })
            }
        }
    }

    func ticketCounts() async throws -> (byState: [String: Int], bySource: [String: Int]) {
        try await pool.read { db in
            var byState: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM tickets GROUP BY state") {
                let state: String = row["state"]
                byState[state] = row["n"]
            }
            var bySource: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT json_extract(doc, '$.source') AS source, COUNT(*) AS n FROM tickets GROUP BY 1") {
                let source: String? = row["source"]
                bySource[source ?? "unknown"] = row["n"]
            }
            return (byState, bySource)
        }
    }

    func recentAudit(matching filter: String?, limit: Int) async throws -> [AuditRecord] {
        try await pool.read { db in
            if let filter, !filter.isEmpty {
                var escaped = filter.replacingOccurrences(of: "\\", with: "\\\\")
                escaped = escaped.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                let like = "%" + escaped + "%"
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM audit_log WHERE actor LIKE ?1 ESCAPE '\\' OR action LIKE ?1 ESCAPE '\\' OR subject LIKE ?1 ESCAPE '\\' ORDER BY id DESC LIMIT ?2",
                    arguments: [like, limit]).map(Self.auditRecord)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.auditRecord)
        }
    }

    func auditRowCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_log") ?? 0 }
    }
}
