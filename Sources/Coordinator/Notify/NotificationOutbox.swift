import Foundation
import GRDB
import Shared

/// The durable outbox: events as they happened (`notify_events`, written in the transaction
/// that changed the ticket or control), and one message row per channel and dedupe key
/// (`notify_messages`, pending → sent | failed). A restart loses nothing; the unique key
/// keeps a second routing of the same event from making a second message.
protocol NotificationOutbox: Sendable {
    func recordNotification(_ event: NotificationEvent) async throws
    func unroutedEvents(limit: Int) async throws -> [(id: Int64, event: NotificationEvent)]
    /// Creates the messages for `channels` and marks the event routed, in one transaction.
    func route(eventID: Int64, event: NotificationEvent, channels: [String], at: Date) async throws
    /// Channels holding a message (pending or sent) about the ticket.
    func toldChannels(ticketID: Int64) async throws -> Set<String>
    /// Per channel with pending messages: the oldest one's creation and when the channel may
    /// send (the end of its backoff when a message is retrying, else the earliest due time).
    func pendingChannels() async throws -> [(channel: String, oldest: Date, due: Date)]
    func dueMessages(channel: String, now: Date, limit: Int) async throws -> [OutboxMessage]
    func markSent(_ ids: [Int64], at: Date) async throws
    func markRetry(_ ids: [Int64], nextAttempt: Date, error: String) async throws
    func markFailed(_ ids: [Int64], error: String, at: Date) async throws
    func outboxStatus() async throws -> OutboxStatus
    func pruneOutbox(before: Date) async throws
}

struct OutboxMessage: Sendable, Equatable {
    var id: Int64
    var channel: String
    var event: NotificationEvent
    var attempts: Int
    var createdAt: Date
}

/// What `notify status` prints.
struct OutboxStatus: Codable, Sendable, Equatable {
    struct Counts: Codable, Sendable, Equatable {
        var channel: String
        var pending = 0
        var sent = 0
        var failed = 0
    }
    struct Failure: Codable, Sendable, Equatable {
        var id: Int64
        var channel: String
        var kind: String
        var title: String
        var attempts: Int
        var lastError: String
        var at: String
    }
    var unrouted: Int
    var channels: [Counts]
    var failed: [Failure]
    var retrying: [Failure]
}

extension SQLiteCoordinatorStore: NotificationOutbox {
    static let notifyWakeKey = "notify"

    /// Inside another write (a ticket save, a control change): the event is stored exactly
    /// when the change is.
    static func record(_ events: [NotificationEvent], in db: Database) throws {
        for event in events {
            let doc = String(decoding: try WireCodec.encode(event), as: UTF8.self)
            try db.execute(
                sql: "INSERT OR IGNORE INTO notify_events (dedupe_key, kind, ticket_id, host, doc, created_at, routed) VALUES (?, ?, ?, ?, ?, ?, 0)",
                arguments: [event.dedupeKey, event.kind.rawValue, event.ticketID, event.host, doc, event.at.timeIntervalSince1970])
        }
    }

    /// Wakes the delivery service after a write that recorded events.
    func notifyRecorded(_ count: Int) async {
        if count > 0 { await notifyWake.notify(Self.notifyWakeKey) }
    }

    func recordNotification(_ event: NotificationEvent) async throws {
        try await pool.write { db in try Self.record([event], in: db) }
        await notifyRecorded(1)
    }

    func unroutedEvents(limit: Int) async throws -> [(id: Int64, event: NotificationEvent)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, doc FROM notify_events WHERE routed = 0 ORDER BY id LIMIT ?", arguments: [limit]).map { row in
                (id: row["id"] as Int64, event: try WireCodec.decodeStored(NotificationEvent.self, from: Data((row["doc"] as String).utf8)))
            }
        }
    }

    func route(eventID: Int64, event: NotificationEvent, channels: [String], at: Date) async throws {
        try await pool.write { db in
            for channel in channels {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO notify_messages (channel, event_id, dedupe_key, ticket_id, kind, state, attempts, next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                        """,
                    arguments: [channel, eventID, event.dedupeKey, event.ticketID, event.kind.rawValue, at.timeIntervalSince1970, at.timeIntervalSince1970])
            }
            try db.execute(sql: "UPDATE notify_events SET routed = 1 WHERE id = ?", arguments: [eventID])
        }
    }

    func toldChannels(ticketID: Int64) async throws -> Set<String> {
        try await pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT channel FROM notify_messages WHERE ticket_id = ? AND state IN ('pending', 'sent') AND kind NOT IN ('resolved', 'agent_back')",
                                    arguments: [ticketID]))
        }
    }

    func pendingChannels() async throws -> [(channel: String, oldest: Date, due: Date)] {
        try await pool.read { db in
            // A channel in backoff (a message that failed waits) holds its new messages too: the
            // service is down or rate-limited for all of them, and they leave together.
            try Row.fetchAll(db, sql: """
                SELECT channel, MIN(created_at) AS oldest,
                       COALESCE(MAX(CASE WHEN attempts > 0 THEN next_attempt_at END), MIN(next_attempt_at)) AS due
                FROM notify_messages WHERE state = 'pending' GROUP BY channel
                """)
                .map { row -> (channel: String, oldest: Date, due: Date) in
                    (channel: row["channel"] as String, oldest: Date(timeIntervalSince1970: row["oldest"] as Double), due: Date(timeIntervalSince1970: row["due"] as Double))
                }
        }
    }

    func dueMessages(channel: String, now: Date, limit: Int) async throws -> [OutboxMessage] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT m.id, m.channel, m.attempts, m.created_at, e.doc FROM notify_messages m JOIN notify_events e ON e.id = m.event_id
                WHERE m.channel = ? AND m.state = 'pending' AND m.next_attempt_at <= ? ORDER BY m.id LIMIT ?
                """, arguments: [channel, now.timeIntervalSince1970, limit]).map { row in
                OutboxMessage(id: row["id"], channel: row["channel"],
                              event: try WireCodec.decodeStored(NotificationEvent.self, from: Data((row["doc"] as String).utf8)),
                              attempts: row["attempts"], createdAt: Date(timeIntervalSince1970: row["created_at"] as Double))
            }
        }
    }

    func markSent(_ ids: [Int64], at: Date) async throws {
        try await pool.write { db in
            for id in ids {
                try db.execute(sql: "UPDATE notify_messages SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 'pending'",
                               arguments: [at.timeIntervalSince1970, id])
            }
        }
    }

    func markRetry(_ ids: [Int64], nextAttempt: Date, error: String) async throws {
        try await pool.write { db in
            for id in ids {
                try db.execute(sql: "UPDATE notify_messages SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'",
                               arguments: [nextAttempt.timeIntervalSince1970, error, id])
            }
        }
    }

    func markFailed(_ ids: [Int64], error: String, at: Date) async throws {
        try await pool.write { db in
            for id in ids {
                try db.execute(sql: "UPDATE notify_messages SET state = 'failed', attempts = attempts + 1, last_error = ?, sent_at = ? WHERE id = ? AND state = 'pending'",
                               arguments: [error, at.timeIntervalSince1970, id])
            }
        }
    }

    func outboxStatus() async throws -> OutboxStatus {
        try await pool.read { db in
            let unrouted = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notify_events WHERE routed = 0") ?? 0
            var counts: [String: OutboxStatus.Counts] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT channel, state, COUNT(*) AS n FROM notify_messages GROUP BY channel, state") {
                let channel: String = row["channel"]
                var entry = counts[channel] ?? OutboxStatus.Counts(channel: channel)
                switch row["state"] as String {
                case "pending": entry.pending = row["n"]
                case "sent": entry.sent = row["n"]
                default: entry.failed = row["n"]
                }
                counts[channel] = entry
            }
            func failures(_ sql: String) throws -> [OutboxStatus.Failure] {
                try Row.fetchAll(db, sql: sql).map { row in
                    let event = try WireCodec.decodeStored(NotificationEvent.self, from: Data((row["doc"] as String).utf8))
                    return OutboxStatus.Failure(id: row["id"], channel: row["channel"], kind: event.kind.rawValue, title: event.title,
                                                attempts: row["attempts"], lastError: (row["last_error"] as String?) ?? "",
                                                at: WireDate.format(Date(timeIntervalSince1970: row["at"] as Double)))
                }
            }
            let failed = try failures("""
                SELECT m.id, m.channel, m.attempts, m.last_error, COALESCE(m.sent_at, m.created_at) AS at, e.doc FROM notify_messages m
                JOIN notify_events e ON e.id = m.event_id WHERE m.state = 'failed' ORDER BY m.id DESC LIMIT 50
                """)
            let retrying = try failures("""
                SELECT m.id, m.channel, m.attempts, m.last_error, m.next_attempt_at AS at, e.doc FROM notify_messages m
                JOIN notify_events e ON e.id = m.event_id WHERE m.state = 'pending' AND m.attempts > 0 ORDER BY m.id DESC LIMIT 50
                """)
            return OutboxStatus(unrouted: unrouted, channels: counts.values.sorted { $0.channel < $1.channel }, failed: failed, retrying: retrying)
        }
    }

    func pruneOutbox(before: Date) async throws {
        try await pool.write { db in
            let cutoff = before.timeIntervalSince1970
            try db.execute(sql: "DELETE FROM notify_messages WHERE state != 'pending' AND created_at < ?", arguments: [cutoff])
            try db.execute(sql: """
                DELETE FROM notify_events WHERE routed = 1 AND created_at < ?
                AND NOT EXISTS (SELECT 1 FROM notify_messages m WHERE m.event_id = notify_events.id)
                """, arguments: [cutoff])
        }
    }
}

extension CoordinatorMigrations {
    /// `notify-outbox`: events as they happened and the messages they became, per channel.
    static func registerNotifyOutbox(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notify-v1-outbox") { db in
            try db.execute(sql: """
                CREATE TABLE notify_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    dedupe_key TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    ticket_id INTEGER,
                    host TEXT,
                    doc TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    routed INTEGER NOT NULL
                );
                CREATE INDEX notify_events_routed ON notify_events(routed, id);
                CREATE TABLE notify_messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    event_id INTEGER NOT NULL REFERENCES notify_events(id),
                    dedupe_key TEXT NOT NULL,
                    ticket_id INTEGER,
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    sent_at REAL,
                    last_error TEXT,
                    UNIQUE (channel, dedupe_key)
                );
                CREATE INDEX notify_messages_pending ON notify_messages(state, channel, next_attempt_at);
                CREATE INDEX notify_messages_ticket ON notify_messages(ticket_id, channel);
                """)
        }
    }
}
