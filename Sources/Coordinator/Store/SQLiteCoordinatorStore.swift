import Foundation
import GRDB
import Shared

/// The embedded store: one SQLite file in WAL mode under `data_dir`.
final class SQLiteCoordinatorStore: CoordinatorStore {
    let pool: DatabasePool
    private let reportWriter: ReportWriter
    /// Wakes the notification delivery when a write stored events (NotificationOutbox).
    let notifyWake = Notifier()

    init(path: String, readonly: Bool = false) throws {
        pool = try SQLiteStore.openPool(path: path, readonly: readonly)
        reportWriter = ReportWriter(pool: pool)
        if !readonly {
            try CoordinatorMigrations.migrator.migrate(pool)
        }
    }

    // MARK: Join tokens

    func createJoinToken(_ token: JoinTokenRecord, audit: AuditEntry) async throws {
        try await pool.write { db in
            // One usable token per name: a new one voids the ones before it (D2).
            let stamp = WireDate.format(token.createdAt)
            let older = try String.fetchAll(
                db, sql: "SELECT id FROM join_tokens WHERE agent = ? AND used_at IS NULL AND invalidated_at IS NULL", arguments: [token.agent])
            for id in older {
                try db.execute(sql: "UPDATE join_tokens SET invalidated_at = ? WHERE id = ?", arguments: [stamp, id])
                try Self.append(
                    AuditEntry(at: token.createdAt, actor: audit.actor, action: "token.invalidated", subject: token.agent,
                               details: ["token": id, "reason": "replaced by token \(token.id)"]),
                    in: db)
            }
            try db.execute(
                sql: "INSERT INTO join_tokens (id, secret_hash, agent, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.id, token.secretHash, token.agent, WireDate.format(token.createdAt), WireDate.format(token.expiresAt)])
            try db.execute(
                sql: "INSERT OR IGNORE INTO agents (name, state, created_at) VALUES (?, ?, ?)",
                arguments: [token.agent, AgentState.pending.rawValue, WireDate.format(token.createdAt)])
            try Self.append(audit, in: db)
        }
    }

    func consumeJoinToken(secretHash: String, name: String, now: Date) async throws -> TokenCheck {
        try await pool.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, agent, expires_at, used_at, invalidated_at FROM join_tokens WHERE secret_hash = ?", arguments: [secretHash])
            else {
                return .unknown
            }
            let id: String = row["id"]
            let agent: String = row["agent"]
            if row["used_at"] as String? != nil { return .alreadyUsed(tokenID: id) }
            if row["invalidated_at"] as String? != nil { return .invalidated(tokenID: id) }
            // An enrolled agent is never enrolled a second time beside itself (one host, one identity).
            if try String.fetchOne(db, sql: "SELECT state FROM agents WHERE name = ?", arguments: [agent]) == AgentState.active.rawValue {
                return .invalidated(tokenID: id)
            }
            if let expires = WireDate.parse(row["expires_at"]), expires <= now { return .expired(tokenID: id) }
            if agent != name { return .wrongName(tokenID: id, boundTo: agent) }
            try db.execute(sql: "UPDATE join_tokens SET used_at = ? WHERE id = ?", arguments: [WireDate.format(now), id])
            return .accepted(tokenID: id)
        }
    }

    // MARK: Agents

    func agent(named name: String) async throws -> AgentRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE name = ?", arguments: [name]).map(Self.agentRecord)
        }
    }

    func agents() async throws -> [AgentRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM agents ORDER BY name").map(Self.agentRecord)
        }
    }

    func recordCertificate(_ certificate: CertificateRecord, audit: AuditEntry) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO certificates (serial, agent, kind, issued_at, not_after, key_sha256) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [certificate.serial, certificate.agent, certificate.kind.rawValue,
                            WireDate.format(certificate.issuedAt), WireDate.format(certificate.notAfter), certificate.keySHA256])
            let issued = WireDate.format(certificate.issuedAt)
            try db.execute(
                sql: """
                    INSERT INTO agents (name, state, created_at, enrolled_at, cert_serial, cert_not_after)
                    VALUES (?, 'active', ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET
                        state = 'active',
                        enrolled_at = CASE WHEN ? = 'enrolled' THEN excluded.enrolled_at ELSE agents.enrolled_at END,
                        cert_serial = excluded.cert_serial,
                        cert_not_after = excluded.cert_not_after
                    """,
                arguments: [certificate.agent, issued, issued, certificate.serial, WireDate.format(certificate.notAfter), certificate.kind.rawValue])
            try Self.append(audit, in: db)
        }
    }

    func revokeAgent(named name: String, now: Date, audit: AuditEntry) async throws -> Int {
        try await pool.write { db in
            let stamp = WireDate.format(now)
            try db.execute(sql: "UPDATE certificates SET revoked_at = ? WHERE agent = ? AND revoked_at IS NULL", arguments: [stamp, name])
            let revoked = db.changesCount
            try db.execute(sql: "UPDATE agents SET state = 'revoked' WHERE name = ?", arguments: [name])
            // Unused join tokens for this name die with it.
            try db.execute(
                sql: "UPDATE join_tokens SET invalidated_at = ? WHERE agent = ? AND used_at IS NULL AND invalidated_at IS NULL", arguments: [stamp, name])
            try Self.append(audit, in: db)
            // Nothing queued for the revoked host reaches whoever enrolls under its name next,
            // and nothing it was sent can still report back (D4).
            let pending = try Row.fetchAll(
                db, sql: "SELECT id, kind, state FROM commands WHERE agent = ? AND state IN ('queued', 'sent') ORDER BY created_at, rowid",
                arguments: [name])
            for row in pending {
                let id: String = row["id"]
                try db.execute(
                    sql: "UPDATE commands SET state = ?, finished_at = ? WHERE id = ?", arguments: [CommandState.cancelled.rawValue, stamp, id])
                try Self.append(
                    AuditEntry(at: now, actor: audit.actor, action: "command.cancelled", subject: name,
                               details: ["command": id, "kind": row["kind"], "was": row["state"], "reason": "agent revoked"]),
                    in: db)
            }
            return revoked
        }
    }

    func retireCertificates(agent: String, keeping: Set<String>, now: Date, audit: AuditEntry) async throws -> Int {
        try await pool.write { db in
            let serials = try String.fetchAll(db, sql: "SELECT serial FROM certificates WHERE agent = ? AND revoked_at IS NULL", arguments: [agent])
                .filter { !keeping.contains($0) }
            for serial in serials {
                try db.execute(sql: "UPDATE certificates SET revoked_at = ? WHERE serial = ?", arguments: [WireDate.format(now), serial])
            }
            if !serials.isEmpty {
                var entry = audit
                entry.details["serials"] = serials.sorted().joined(separator: ",")
                try Self.append(entry, in: db)
            }
            return serials.count
        }
    }

    func authorize(agent: String, serial: String, keySHA256: String) async throws -> AuthorizationDecision {
        try await pool.read { db in
            let agentQuery = try db.cachedStatement(sql: "SELECT state FROM agents WHERE name = ?")
            guard let state = try String.fetchOne(agentQuery, arguments: [agent]) else {
                return .unknownAgent
            }
            let certificateQuery = try db.cachedStatement(sql: "SELECT agent, revoked_at, key_sha256 FROM certificates WHERE serial = ?")
            guard let row = try Row.fetchOne(certificateQuery, arguments: [serial]),
                  (row["agent"] as String) == agent
            else {
                return .unknownCertificate
            }
            // A serial is public (it is in every handshake): the key is what proves the holder.
            if let issued = row["key_sha256"] as String?, !ConstantTime.equals(issued, keySHA256) { return .wrongKey }
            if state == AgentState.revoked.rawValue || row["revoked_at"] as String? != nil { return .revoked }
            return state == AgentState.active.rawValue ? .allowed : .unknownAgent
        }
    }

    // MARK: Reports

    func storeReports(agent: String, reports: [HealthReport], receivedAt: Date) async throws -> HealthReceipt {
        let encoder = WireCodec.encoder()
        let batch = ReportBatch(
            agent: agent, reports: try reports.map { ($0, String(decoding: try encoder.encode($0), as: UTF8.self)) },
            received: WireDate.format(receivedAt))
        return try await reportWriter.submit(batch)
    }

    /// Writes one agent's batch inside the caller's transaction.
    static func store(_ batch: ReportBatch, in db: Database) throws -> HealthReceipt {
        var accepted = 0
        var duplicates = 0
        var newest: HealthReport?
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO health_reports (id, agent, sequence, created_at, received_at, body) VALUES (?, ?, ?, ?, ?, ?)
            """)
        let sampleStatement = try db.cachedStatement(sql: "INSERT INTO samples (agent, metric, subject, at, value) VALUES (?, ?, ?, ?, ?)")
        for (report, body) in batch.reports {
            try statement.execute(arguments: [report.id, batch.agent, report.sequence, WireDate.format(report.createdAt), batch.received, body])
            if db.changesCount == 1 {
                // The trends' numbers, in the same transaction: a replayed spool fills the gap.
                for sample in SampleExtractor.samples(report) {
                    try sampleStatement.execute(arguments: [batch.agent, sample.metric, sample.subject, sample.at.timeIntervalSince1970, sample.value])
                }
                accepted += 1
                if newest == nil || report.sequence > newest!.sequence { newest = report }
            } else {
                duplicates += 1
            }
        }
        if let newest {
            // The latest report is the newest one of the batch received last, not the highest
            // sequence ever seen: a rebuilt host starts again at 1, and one report with a huge
            // sequence must not pin the host to it (D5). The agent drains its spool oldest
            // first, so the batch received last holds its newest report.
            try db.cachedStatement(
                sql: """
                    UPDATE agents SET last_report_at = ?, last_report_id = ?, last_sequence = ?, report_count = report_count + ?
                    WHERE name = ?
                    """
            ).execute(arguments: [batch.received, newest.id, newest.sequence, accepted, batch.agent])
        }
        return HealthReceipt(accepted: accepted, duplicates: duplicates)
    }

    func latestReport(agent: String) async throws -> HealthReport? {
        let body = try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT r.body FROM agents a JOIN health_reports r ON r.id = a.last_report_id WHERE a.name = ?", arguments: [agent])
        }
        guard let body else { return nil }
        return try WireCodec.decodeStored(HealthReport.self, from: Data(body.utf8))
    }

    func reportSequences(agent: String, limit: Int) async throws -> [ReportListing] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, sequence, created_at, received_at FROM health_reports WHERE agent = ? ORDER BY rowid LIMIT ?",
                arguments: [agent, limit]
            ).map { row in
                ReportListing(
                    id: row["id"], sequence: row["sequence"],
                    createdAt: WireDate.parse(row["created_at"]) ?? .distantPast,
                    receivedAt: WireDate.parse(row["received_at"]) ?? .distantPast)
            }
        }
    }

    // MARK: Commands

    func enqueueCommand(_ command: CommandRecord, audit: AuditEntry) async throws {
        let params = String(decoding: try WireCodec.encode(command.params), as: UTF8.self)
        try await pool.write { db in
            try Self.insert(command, params: params, in: db)
            try Self.append(audit, in: db)
        }
    }

    /// One `commands` row; `params` is the command's parameters already encoded.
    static func insert(_ command: CommandRecord, params: String, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO commands (id, agent, kind, params, dry_run, state, requested_by, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [command.id, command.agent, command.kind, params, command.dryRun, command.state.rawValue,
                        command.requestedBy, WireDate.format(command.createdAt)])
    }

    func claimNextCommand(agent: String, now: Date) async throws -> CommandRecord? {
        // Cheap read first: almost every long-poll finds nothing, and reads do not take the writer.
        let pending = try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM commands WHERE agent = ? AND state = 'queued' LIMIT 1", arguments: [agent]) ?? false
        }
        guard pending else { return nil }
        return try await pool.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM commands WHERE agent = ? AND state = 'queued' ORDER BY created_at, rowid LIMIT 1", arguments: [agent])
            else { return nil }
            var record = try Self.commandRecord(row)
            record.state = .sent
            record.sentAt = now
            // Marked sent before it leaves: a lost answer is never handed out twice.
            try db.execute(sql: "UPDATE commands SET state = 'sent', sent_at = ? WHERE id = ?", arguments: [WireDate.format(now), record.id])
            try Self.append(
                AuditEntry(at: now, actor: "coordinator", action: "command.sent", subject: agent, details: ["command": record.id, "kind": record.kind]),
                in: db)
            return record
        }
    }

    func completeCommand(agent: String, result: CommandResult, now: Date) async throws -> CommandCompletion {
        let body = String(decoding: try WireCodec.encode(result), as: UTF8.self)
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM commands WHERE id = ? AND agent = ?", arguments: [result.commandId, agent]) else {
                return .unknown
            }
            var record = try Self.commandRecord(row)
            if record.state.isFinished { return .alreadyFinished(record) }
            record.state = CommandState(rawValue: result.status.rawValue) ?? .failed
            record.finishedAt = now
            record.result = result
            try db.execute(
                sql: "UPDATE commands SET state = ?, finished_at = ?, result = ? WHERE id = ?",
                arguments: [record.state.rawValue, WireDate.format(now), body, record.id])
            try Self.append(
                AuditEntry(
                    at: now, actor: "agent:\(agent)", action: "command.result", subject: agent,
                    details: ["command": record.id, "kind": record.kind, "status": result.status.rawValue, "message": Redactor.redact(result.message)]),
                in: db)
            return .recorded(record)
        }
    }

    func command(id: String) async throws -> CommandRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM commands WHERE id = ?", arguments: [id]).map(Self.commandRecord)
        }
    }

    // MARK: Audit

    func appendAudit(_ entry: AuditEntry) async throws {
        try await pool.write { db in try Self.append(entry, in: db) }
    }

    func auditRows(since: Date?) async throws -> [AuditRecord] {
        try await pool.read { db in
            let rows: [Row]
            if let since {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE at >= ? ORDER BY id", arguments: [WireDate.format(since)])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id")
            }
            return rows.map(Self.auditRecord)
        }
    }

    func verifyAudit() async throws -> ChainVerdict {
        try await pool.read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_log ORDER BY id")
            var rows: [ChainRow] = []
            while let row = try cursor.next() { rows.append(Self.auditRecord(row).chainRow) }
            return HashChain.verify(rows)
        }
    }

    /// The stored hash of audit row `row`, for checking anchors.
    func auditHash(row: Int64) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT hash FROM audit_log WHERE id = ?", arguments: [row]) }
    }

    /// The newest row as an anchor (nil for an empty log).
    func auditHead() throws -> AuditAnchor? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").map { AuditAnchor(row: $0["id"], hash: $0["hash"]) }
        }
    }

    /// Appends one chained row inside the caller's transaction (writes are serialized, so the
    /// head read here is the head the row links to).
    static func append(_ entry: AuditEntry, in db: Database) throws {
        let head = try Row.fetchOne(db, sql: "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        let id: Int64 = (head?["id"] as Int64? ?? 0) + 1
        let previous: String = head?["hash"] ?? HashChain.genesis
        // Bounded: whatever a peer sends, one row stays a few KB (D3).
        var details: [String: String] = [:]
        for key in entry.details.keys.sorted().prefix(Self.maxDetails) {
            details[Self.bounded(key, Self.maxField)] = Self.bounded(Redactor.redact(entry.details[key] ?? ""), Self.maxDetail)
        }
        if entry.details.count > Self.maxDetails { details["_omitted"] = "\(entry.details.count - Self.maxDetails) more details" }
        let encoded = String(decoding: HashChain.canonical(details), as: UTF8.self)
        var record = AuditRecord(
            id: id, at: WireDate.format(entry.at), actor: Self.bounded(entry.actor, Self.maxField), action: Self.bounded(entry.action, Self.maxField),
            subject: Self.bounded(entry.subject, Self.maxField),
            details: encoded, previousHash: previous, hash: "")
        record.hash = HashChain.link(previous: previous, canonical: record.canonical)
        try db.execute(
            sql: "INSERT INTO audit_log (id, at, actor, action, subject, details, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [record.id, record.at, record.actor, record.action, record.subject, record.details, record.previousHash, record.hash])
    }

    static let maxField = 256
    static let maxDetail = 1024
    static let maxDetails = 64

    /// At most `limit` Unicode scalars (so at most 4 × `limit` bytes), marked when cut.
    static func bounded(_ text: String, _ limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        var cut = String.UnicodeScalarView()
        cut.append(contentsOf: scalars.prefix(limit))
        return String(cut) + "…[\(text.utf8.count) bytes]"
    }

    // MARK: Row mapping

    static func agentRecord(_ row: Row) -> AgentRecord {
        AgentRecord(
            name: row["name"],
            state: AgentState(rawValue: row["state"]) ?? .pending,
            createdAt: WireDate.parse(row["created_at"]) ?? .distantPast,
            enrolledAt: (row["enrolled_at"] as String?).flatMap(WireDate.parse),
            certificateSerial: row["cert_serial"],
            certificateNotAfter: (row["cert_not_after"] as String?).flatMap(WireDate.parse),
            lastReportAt: (row["last_report_at"] as String?).flatMap(WireDate.parse),
            lastSequence: row["last_sequence"],
            reportCount: row["report_count"])
    }

    static func commandRecord(_ row: Row) throws -> CommandRecord {
        let params = try WireCodec.decodeStored([String: String].self, from: Data((row["params"] as String).utf8))
        let result = try (row["result"] as String?).map { try WireCodec.decodeStored(CommandResult.self, from: Data($0.utf8)) }
        return CommandRecord(
            id: row["id"], agent: row["agent"], kind: row["kind"], params: params, dryRun: row["dry_run"],
            state: CommandState(rawValue: row["state"]) ?? .failed, requestedBy: row["requested_by"],
            createdAt: WireDate.parse(row["created_at"]) ?? .distantPast,
            sentAt: (row["sent_at"] as String?).flatMap(WireDate.parse),
            finishedAt: (row["finished_at"] as String?).flatMap(WireDate.parse),
            result: result)
    }

    static func auditRecord(_ row: Row) -> AuditRecord {
        AuditRecord(
            id: row["id"], at: row["at"], actor: row["actor"], action: row["action"], subject: row["subject"],
            details: row["details"], previousHash: row["previous_hash"], hash: row["hash"])
    }
}
