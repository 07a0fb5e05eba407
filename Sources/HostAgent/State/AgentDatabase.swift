import Foundation
import GRDB
import Shared

/// The agent's SQLite file: the report spool and the hash-chained action journal.
enum AgentDatabase {
    static func open(path: String) throws -> DatabasePool {
        let pool = try SQLiteStore.openPool(path: path)
        try migrator.migrate(pool)
        return pool
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-spool-journal") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE spool (
                    sequence INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE TABLE journal (
                    id INTEGER PRIMARY KEY,
                    command_id TEXT NOT NULL,
                    event TEXT NOT NULL,
                    at TEXT NOT NULL,
                    body TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX journal_command ON journal(command_id, event);
                """)
        }
        migrator.registerMigration("v2-action-runs") { db in
            try db.execute(sql: """
                CREATE TABLE action_runs (
                    id INTEGER PRIMARY KEY,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    at TEXT NOT NULL,
                    command_id TEXT NOT NULL
                );
                CREATE INDEX action_runs_lookup ON action_runs(action, subject, at);
                """)
        }
        return migrator
    }
}
