import Foundation
import GRDB
import Shared

/// The agent's append-only record of every command: `received` before it acts, `finished`
/// with the result, `reported` once the coordinator has it. Rows are hash-chained like the
/// coordinator's audit log and the head travels with every health report.
final class CommandJournal: Sendable {
    enum Event: String, Sendable {
        case received, finished, reported
    }

    private let pool: DatabasePool

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func record(_ event: Event, commandID: String, body: String, now: Date = Date()) throws {
        try pool.write { db in
            let head = try Row.fetchOne(db, sql: "SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1")
            let id: Int64 = (head?["id"] as Int64? ?? 0) + 1
            let previous: String = head?["hash"] ?? HashChain.genesis
            let row = JournalRow(id: id, command: commandID, event: event.rawValue, at: WireDate.format(now), body: body, previous: previous)
            let hash = HashChain.link(previous: previous, canonical: HashChain.canonical(row))
            try db.execute(
                sql: "INSERT INTO journal (id, command_id, event, at, body, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [id, commandID, event.rawValue, row.at, body, previous, hash])
        }
    }

    /// Events recorded for one command, oldest first.
    func events(commandID: String) throws -> [(Event, String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT event, body FROM journal WHERE command_id = ? ORDER BY id", arguments: [commandID])
                .compactMap { row in Event(rawValue: row["event"]).map { ($0, row["body"] as String) } }
        }
    }

    /// Commands received but never finished: the agent stopped while running them.
    func unfinished() throws -> [Command] {
        let bodies = try pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT body FROM journal r WHERE r.event = 'received'
                AND NOT EXISTS (SELECT 1 FROM journal f WHERE f.command_id = r.command_id AND f.event = 'finished')
                ORDER BY id
                """)
        }
        return bodies.compactMap { try? WireCodec.decodeStored(Command.self, from: Data($0.utf8)) }
    }

    /// Results finished but not yet acknowledged by the coordinator.
    func unreported() throws -> [CommandResult] {
        let bodies = try pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT body FROM journal f WHERE f.event = 'finished'
                AND NOT EXISTS (SELECT 1 FROM journal r WHERE r.command_id = f.command_id AND r.event = 'reported')
                ORDER BY id
                """)
        }
        return bodies.compactMap { try? WireCodec.decodeStored(CommandResult.self, from: Data($0.utf8)) }
    }

    func head() throws -> ChainHead {
        try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1")
            return ChainHead(count: row?["id"] ?? 0, hash: row?["hash"] ?? HashChain.genesis)
        }
    }

    func verify() throws -> ChainVerdict {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM journal ORDER BY id").map { row in
                let content = JournalRow(
                    id: row["id"], command: row["command_id"], event: row["event"], at: row["at"], body: row["body"], previous: row["previous_hash"])
                return ChainRow(id: content.id, canonical: HashChain.canonical(content), previousHash: content.previous, hash: row["hash"])
            }
            return HashChain.verify(rows)
        }
    }
}

private struct JournalRow: Encodable {
    var id: Int64
    var command: String
    var event: String
    var at: String
    var body: String
    var previous: String
}
