import Foundation
import GRDB
import Shared

extension SQLiteCoordinatorStore: TicketStore {
    private static func encode(_ ticket: Ticket) throws -> String {
        String(decoding: try WireCodec.encode(ticket), as: UTF8.self)
    }

    private static func decode(_ row: Row) throws -> Ticket {
        var ticket = try WireCodec.decodeStored(Ticket.self, from: Data((row["doc"] as String).utf8))
        ticket.id = row["id"]
        return ticket
    }

    private static func columns(_ ticket: Ticket) -> [(any DatabaseValueConvertible)?] {
        [ticket.issueNumber, ticket.findingKey, ticket.host, ticket.state.rawValue, ticket.isOpen,
         ticket.dueAt.map(WireDate.format), WireDate.format(ticket.createdAt), WireDate.format(ticket.updatedAt)]
    }

    func insertTicket(_ ticket: Ticket, audit: AuditEntry) async throws -> (ticket: Ticket, created: Bool) {
        let doc = try Self.encode(ticket)
        let result: (ticket: Ticket, created: Bool) = try await pool.write { db in
            if let number = ticket.issueNumber,
               let row = try Row.fetchOne(db, sql: "SELECT * FROM tickets WHERE issue_number = ?", arguments: [number]) {
                return (try Self.decode(row), false)
            }
            try db.execute(
                sql: """
                    INSERT INTO tickets (issue_number, finding_key, host, state, open, due_at, created_at, updated_at, doc)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: StatementArguments(Self.columns(ticket) + [doc]))
            var stored = ticket
            stored.id = db.lastInsertedRowID
            var entry = audit
            entry.subject = stored.subjectName
            try db.execute(sql: "UPDATE tickets SET doc = ? WHERE id = ?", arguments: [try Self.encode(stored), stored.id])
            try Self.append(entry, in: db)
            try Self.record(NotificationEvent.forTicket(before: nil, after: stored, at: stored.updatedAt), in: db)
            return (stored, true)
        }
        if result.created { await notifyRecorded(1) }
        return result
    }

    func saveTicket(_ ticket: Ticket, audit: AuditEntry?) async throws {
        let doc = try Self.encode(ticket)
        let events = try await pool.write { db in
            // The state as stored before this write: what changed is what people hear about.
            let before = try String.fetchOne(db, sql: "SELECT state FROM tickets WHERE id = ?", arguments: [ticket.id]).flatMap(TicketState.init(rawValue:))
            try db.execute(
                sql: """
                    UPDATE tickets SET issue_number = ?, finding_key = ?, host = ?, state = ?, open = ?, due_at = ?,
                        created_at = ?, updated_at = ?, doc = ? WHERE id = ?
                    """,
                arguments: StatementArguments(Self.columns(ticket) + [doc, ticket.id]))
            if let audit { try Self.append(audit, in: db) }
            let events = before.map { NotificationEvent.forTicket(before: $0, after: ticket, at: ticket.updatedAt) } ?? []
            try Self.record(events, in: db)
            return events.count
        }
        await notifyRecorded(events)
    }

    func ticket(id: Int64) async throws -> Ticket? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tickets WHERE id = ?", arguments: [id]).map(Self.decode) }
    }

    func ticket(issue: Int) async throws -> Ticket? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tickets WHERE issue_number = ?", arguments: [issue]).map(Self.decode) }
    }

    func openTicket(findingKey: String) async throws -> Ticket? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tickets WHERE finding_key = ? AND open = 1 ORDER BY id DESC LIMIT 1", arguments: [findingKey])
                .map(Self.decode)
        }
    }

    func openTickets() async throws -> [Ticket] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM tickets WHERE open = 1 ORDER BY id").map(Self.decode) }
    }

    func unclosedTickets(host: String) async throws -> [Ticket] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tickets WHERE host = ? AND state NOT IN ('resolved', 'healthy') ORDER BY id", arguments: [host])
                .map(Self.decode)
        }
    }

    func openTicketIDs() async throws -> [Int64] {
        try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM tickets WHERE open = 1 ORDER BY id") }
    }

    func openTicketIDs(needingWorkAt now: Date) async throws -> [Int64] {
        // The waiting condition is wrapped in COALESCE(…, 0): a missing key or any NULL in it
        // means "look at the ticket", never "skip it".
        let sql = """
            SELECT t.id FROM tickets t WHERE t.open = 1 AND NOT COALESCE((
                t.due_at IS NOT NULL AND t.due_at > ?
                AND COALESCE(json_array_length(t.doc, '$.requests'), 1) = 0
                AND COALESCE(json_extract(t.doc, '$.github.dirty'), 1) = 0
                AND json_extract(t.doc, '$.reason') IS NULL
                AND ((t.state = 'awaiting_approval'
                      AND json_extract(t.doc, '$.approval.approvedBy') IS NULL AND json_extract(t.doc, '$.approval.deniedBy') IS NULL
                      AND json_extract(t.doc, '$.approval.planHash') IS NOT NULL AND json_extract(t.doc, '$.plan') IS NOT NULL)
                     OR (t.state IN ('diagnosing', 'fixing', 'verifying')
                         AND EXISTS (SELECT 1 FROM commands c WHERE c.id = json_extract(t.doc, '$.pending.id') AND c.state IN ('queued', 'sent'))))
            ), 0) ORDER BY t.id
            """
        let at = WireDate.format(now)
        return try await pool.read { db in try Int64.fetchAll(db, sql: sql, arguments: [at]) }
    }

    func allTickets() async throws -> [Ticket] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM tickets ORDER BY id").map(Self.decode) }
    }

    func markDelivery(id: String, event: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO github_deliveries (id, event, received_at) VALUES (?, ?, ?)",
                           arguments: [id, event, WireDate.format(at)])
            return db.changesCount == 1
        }
    }

    func deliverySeen(_ id: String) async throws -> Bool {
        try await pool.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM github_deliveries WHERE id = ?", arguments: [id]) ?? false }
    }

    func markComment(id: Int64, ticket: Int64, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO processed_comments (id, ticket_id, processed_at) VALUES (?, ?, ?)",
                           arguments: [id, ticket, WireDate.format(at)])
            return db.changesCount == 1
        }
    }

    func control(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM controls WHERE key = ?", arguments: [key]) }
    }

    func controls(prefix: String) async throws -> [String: String] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM controls WHERE key LIKE ? ESCAPE '\\'",
                                        arguments: [prefix.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"])
            return Dictionary(rows.map { ($0["key"] as String, $0["value"] as String) }, uniquingKeysWith: { a, _ in a })
        }
    }

    func setControl(_ key: String, value: String?, at: Date, audit: AuditEntry?) async throws {
        let opened = try await pool.write { db in
            let was = try String.fetchOne(db, sql: "SELECT value FROM controls WHERE key = ?", arguments: [key])
            var recorded = 0
            if key == "breaker", was == nil, let value {
                try Self.record([NotificationEvent.breakerOpened(reason: value, at: at)], in: db)
                recorded = 1
            }
            if let value {
                try db.execute(
                    sql: "INSERT INTO controls (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    arguments: [key, value, WireDate.format(at)])
            } else {
                try db.execute(sql: "DELETE FROM controls WHERE key = ?", arguments: [key])
            }
            if let audit { try Self.append(audit, in: db) }
            return recorded
        }
        await notifyRecorded(opened)
    }

    func acquireLock(_ key: String, ticket: Int64, at: Date) async throws -> Int64 {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO ticket_locks (key, ticket_id, acquired_at) VALUES (?, ?, ?)",
                           arguments: [key, ticket, WireDate.format(at)])
            return try Int64.fetchOne(db, sql: "SELECT ticket_id FROM ticket_locks WHERE key = ?", arguments: [key]) ?? ticket
        }
    }

    func releaseLocks(ticket: Int64) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM ticket_locks WHERE ticket_id = ?", arguments: [ticket]) }
    }

    func enqueueCommandOnce(_ command: CommandRecord, audit: AuditEntry) async throws -> (record: CommandRecord, created: Bool) {
        let params = String(decoding: try WireCodec.encode(command.params), as: UTF8.self)
        return try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM commands WHERE id = ?", arguments: [command.id]) {
                return (try Self.commandRecord(row), false)
            }
            try Self.insert(command, params: params, in: db)
            try Self.append(audit, in: db)
            return (command, true)
        }
    }

    func commands(requestedByPrefix prefix: String, since: Date) async throws -> [CommandRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM commands WHERE requested_by LIKE ? ESCAPE '\\' AND created_at >= ? ORDER BY created_at",
                arguments: [prefix.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%", WireDate.format(since)]
            ).map(Self.commandRecord)
        }
    }
}
