import Foundation
import Shared

/// Django migrations the app's code carries that the database has not applied
/// (`migrations.pending`: an update whose `manage.py migrate` never ran or failed,
/// QFieldCloud #1047, #1469). Cheaper than `manage.py showmigrations` (a Django start, seconds
/// of CPU): the migration files in the running `app` container
/// (`/usr/src/app/qfieldcloud/<app>/migrations/NNNN_name.py`; QFieldCloud's app labels are
/// their directory names and it ships no squashed migrations) against the rows of
/// `django_migrations`. Asked at most once per `interval`; reports in between repeat the answer.
struct MigrationsProbe: Probe {
    let name = "migrations"
    var engine: any DockerEngine
    var project: String
    var database: QueueDatabase
    var interval: TimeInterval = MigrationsProbe.defaultInterval
    var now: @Sendable () -> Date = { Date() }
    let last = LockedValue<(at: Date, result: ProbeResult)?>(nil)

    static let defaultInterval: TimeInterval = 15 * 60
    static let sourceRoot = "/usr/src/app/qfieldcloud"
    static let sql = "SELECT app, name FROM django_migrations;"

    struct Migration: Hashable, Sendable, Comparable {
        var app: String
        var name: String
        static func < (a: Migration, b: Migration) -> Bool { (a.app, a.name) < (b.app, b.name) }
    }

    func collect() async -> ProbeResult {
        let time = now()
        if let last = last.value, time.timeIntervalSince(last.at) < interval, time >= last.at { return last.result }
        let result = await look()
        // A probe that could not look asks again at the next report.
        if result.error == nil { last.value = (time, result) }
        return result
    }

    func look() async -> ProbeResult {
        let files: [Migration]
        do { files = try migrationFiles() } catch { return ProbeResult(error: error.description, fix: error.fix) }
        let applied: Set<Migration>
        do {
            applied = Set(try await database.query(Self.sql).compactMap { row in row.count >= 2 ? Migration(app: row[0], name: row[1]) : nil })
        } catch {
            if case .failed(let why) = error, why.contains("django_migrations"), why.contains("does not exist") {
                // The database's own words: no migration was ever applied (the first `migrate`
                // failed, QFieldCloud #1047): every migration the code ships is pending.
                return ProbeResult(findings: Self.findings(pending: files.sorted(), neverMigrated: QueueDatabase.oneLine(why)))
            }
            return ProbeResult(error: "could not read django_migrations: \(error.description)", fix: error.fix)
        }
        return ProbeResult(findings: Self.findings(pending: files.filter { !applied.contains($0) }.sorted()))
    }

    func migrationFiles() throws(MigrationsProbeError) -> [Migration] {
        let containers: [DockerContainer]
        do { containers = try engine.containers(project: project) } catch { throw .couldNotLook("the Docker engine did not list the project's containers: \(error)", fix: nil) }
        guard let app = containers.first(where: { $0.service == "app" && $0.state == "running" && $0.labels["com.docker.compose.oneoff"] != "True" }) else {
            throw .couldNotLook("no running app container to read the migrations from (the docker probe reports it)", fix: nil)
        }
        let outcome: ProcessOutcome
        do {
            outcome = try engine.exec(app.id, command: ["find", Self.sourceRoot, "-path", "*/migrations/*", "-name", "[0-9]*.py"], input: Data(), timeout: 20)
        } catch {
            throw .couldNotLook("listing the migrations in \(app.name) failed: \(error)", fix: nil)
        }
        guard outcome.succeeded else {
            throw .couldNotLook("\(app.name) has no readable \(Self.sourceRoot) (find exited \(outcome.status): \(QueueDatabase.oneLine(outcome.stderr)))",
                                fix: "not a QFieldCloud app image, or not its layout")
        }
        return Self.parse(outcome.stdout)
    }

    /// `…/qfieldcloud/core/migrations/0091_x.py` → core, 0091_x.
    static func parse(_ listing: String) -> [Migration] {
        listing.split(whereSeparator: \.isNewline).compactMap { line in
            let parts = line.split(separator: "/").map(String.init)
            guard parts.count >= 3, parts[parts.count - 2] == "migrations", let file = parts.last, file.hasSuffix(".py") else { return nil }
            return Migration(app: parts[parts.count - 3], name: String(file.dropLast(3)))
        }
    }

    /// `neverMigrated`: the database's error when `django_migrations` does not exist at all.
    static func findings(pending: [Migration], neverMigrated: String? = nil) -> [Finding] {
        guard !pending.isEmpty else { return [] }
        var byApp: [String: [String]] = [:]
        for migration in pending { byApp[migration.app, default: []].append(migration.name) }
        let summary = byApp.keys.sorted().map { "\($0): \(byApp[$0]!.prefix(3).joined(separator: ", "))\(byApp[$0]!.count > 3 ? " and \(byApp[$0]!.count - 3) more" : "")" }
        var evidence = [
            "pending": String(pending.count), "apps": byApp.keys.sorted().joined(separator: ","),
            "migrations": pending.prefix(20).map { "\($0.app).\($0.name)" }.joined(separator: ","),
        ]
        let opening: String
        if let neverMigrated {
            evidence["database_error"] = neverMigrated
            opening = "no database migration was ever applied (the database has no django_migrations table: \(neverMigrated)), so all \(pending.count) in the app's code are pending"
        } else {
            opening = "\(pending.count) database migration(s) in the app's code are not applied (\(summary.joined(separator: "; ")))"
        }
        return [Finding(.migrationsPending, severity: .critical, subject: "app",
            message: opening + ": "
                + "run `docker compose exec app python manage.py migrate`; if it fails, its error names the cause (often the database role's privileges on the schema, QFieldCloud #1469)",
            evidence: evidence)]
    }
}

enum MigrationsProbeError: Error, CustomStringConvertible {
    case couldNotLook(String, fix: String?)

    var description: String {
        switch self { case .couldNotLook(let why, _): "could not look at the migrations: \(why)" }
    }

    var fix: String? {
        switch self { case .couldNotLook(_, let fix): fix }
    }
}
