import GRDB

/// The coordinator's schema, one named migration per change.
enum CoordinatorMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-spine") { db in
            try db.execute(sql: """
                CREATE TABLE agents (
                    name TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    enrolled_at TEXT,
                    cert_serial TEXT,
                    cert_not_after TEXT,
                    last_report_at TEXT,
                    last_report_id TEXT,
                    last_sequence INTEGER,
                    report_count INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE join_tokens (
                    id TEXT PRIMARY KEY,
                    secret_hash TEXT NOT NULL UNIQUE,
                    agent TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    used_at TEXT
                );
                CREATE TABLE certificates (
                    serial TEXT PRIMARY KEY,
                    agent TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    issued_at TEXT NOT NULL,
                    not_after TEXT NOT NULL,
                    revoked_at TEXT
                );
                CREATE INDEX certificates_agent ON certificates(agent);
                CREATE TABLE health_reports (
                    id TEXT PRIMARY KEY,
                    agent TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE INDEX health_reports_agent_sequence ON health_reports(agent, sequence);
                CREATE TABLE commands (
                    id TEXT PRIMARY KEY,
                    agent TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    params TEXT NOT NULL,
                    dry_run INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    requested_by TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    sent_at TEXT,
                    finished_at TEXT,
                    result TEXT
                );
                CREATE INDEX commands_agent_state ON commands(agent, state, created_at);
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    details TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-tickets") { db in
            try db.execute(sql: """
                CREATE TABLE tickets (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    issue_number INTEGER UNIQUE,
                    finding_key TEXT,
                    host TEXT,
                    state TEXT NOT NULL,
                    open INTEGER NOT NULL,
                    due_at TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    doc TEXT NOT NULL
                );
                CREATE INDEX tickets_open ON tickets(open, due_at);
                CREATE INDEX tickets_finding ON tickets(finding_key, open);
                CREATE TABLE github_deliveries (
                    id TEXT PRIMARY KEY,
                    event TEXT NOT NULL,
                    received_at TEXT NOT NULL
                );
                CREATE TABLE processed_comments (
                    id INTEGER PRIMARY KEY,
                    ticket_id INTEGER NOT NULL,
                    processed_at TEXT NOT NULL
                );
                CREATE TABLE ticket_locks (
                    key TEXT PRIMARY KEY,
                    ticket_id INTEGER NOT NULL,
                    acquired_at TEXT NOT NULL
                );
                CREATE TABLE controls (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX commands_requested ON commands(requested_by, created_at);
                """)
        }
        migrator.registerMigration("v3-predict") { db in
            try db.execute(sql: """
                CREATE TABLE samples (
                    agent TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    at REAL NOT NULL,
                    value REAL NOT NULL
                );
                CREATE INDEX samples_series ON samples(agent, metric, subject, at);
                CREATE INDEX samples_at ON samples(at);
                CREATE TABLE samples_hourly (
                    agent TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    hour REAL NOT NULL,
                    min REAL NOT NULL,
                    max REAL NOT NULL,
                    mean REAL NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (agent, metric, subject, hour)
                );
                CREATE TABLE silences (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    agent TEXT NOT NULL,
                    finding TEXT,
                    until TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    ended_at TEXT
                );
                CREATE TABLE prediction_holds (
                    agent TEXT NOT NULL,
                    key TEXT NOT NULL,
                    since REAL NOT NULL,
                    PRIMARY KEY (agent, key)
                );
                """)
        }
        migrator.registerMigration("v4-certificate-key") { db in
            // The key each certificate was issued for (SHA-256 of its SubjectPublicKeyInfo).
            // Certificates issued before this migration have none and are checked by serial
            // until their renewal records one.
            try db.execute(sql: "ALTER TABLE certificates ADD COLUMN key_sha256 TEXT")
        }
        migrator.registerMigration("v5-token-invalidation") { db in
            // A token made void without being used: a newer token for the same name, the
            // agent's enrollment, or its revocation.
            try db.execute(sql: "ALTER TABLE join_tokens ADD COLUMN invalidated_at TEXT")
        }
        migrator.registerMigration("alerts-v1-ingested-alerts") { db in
            // Alerts from Alertmanager and GlitchTip, stored before the sender gets its answer;
            // `state` pending until IngestService has turned each into a ticket change.
            try db.execute(sql: """
                CREATE TABLE ingested_alerts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    key TEXT NOT NULL,
                    status TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    doc TEXT NOT NULL,
                    state TEXT NOT NULL,
                    host TEXT,
                    ticket_id INTEGER,
                    outcome TEXT,
                    processed_at TEXT
                );
                CREATE INDEX ingested_alerts_state ON ingested_alerts(state, id);
                CREATE INDEX ingested_alerts_key ON ingested_alerts(source, key, host, ticket_id);
                """)
        }
        registerNotifyOutbox(&migrator)
        migrator.registerMigration("dashboard-web-users") { db in
            // Dashboard accounts: bcrypt hashes only, never a password.
            try db.execute(sql: """
                CREATE TABLE web_users (
                    name TEXT PRIMARY KEY,
                    role TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                )
                """)
        }
        migrator.registerMigration("dashboard-ticket-list-indexes") { db in
            // The dashboard's lists walk tickets newest first (by host or state too), and
            // /metrics counts them by source: indexes instead of reading every document.
            try db.execute(sql: """
                CREATE INDEX tickets_updated ON tickets(updated_at, id);
                CREATE INDEX tickets_host_updated ON tickets(host, updated_at, id);
                CREATE INDEX tickets_state_updated ON tickets(state, updated_at, id);
                CREATE INDEX tickets_source ON tickets(json_extract(doc, '$.source'));
                """)
        }
        return migrator
    }
}
