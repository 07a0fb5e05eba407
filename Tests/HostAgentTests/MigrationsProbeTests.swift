import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct MigrationsProbeTests {
    @Test func theAppsMigrationFilesAreNamedByAppAndMigration() {
        let listing = """
            /usr/src/app/qfieldcloud/core/migrations/0001_initial.py
            /usr/src/app/qfieldcloud/core/migrations/0091_job_container_id.py
            /usr/src/app/qfieldcloud/subscription/migrations/0012_plan.py
            /usr/src/app/qfieldcloud/core/tests/test_x.py
            """
        #expect(MigrationsProbe.parse(listing) == [
            .init(app: "core", name: "0001_initial"), .init(app: "core", name: "0091_job_container_id"), .init(app: "subscription", name: "0012_plan"),
        ])
    }

    @Test func pendingMigrationsNameTheAppsAndTheCommand() throws {
        let pending = (1...5).map { MigrationsProbe.Migration(app: "core", name: String(format: "%04d_step", 90 + $0)) } + [.init(app: "project", name: "0011_x")]
        let finding = try #require(MigrationsProbe.findings(pending: pending).first)
        #expect(finding.kind == .migrationsPending && finding.subject == "app" && finding.severity == .critical)
        #expect(finding.evidence["pending"] == "6" && finding.evidence["apps"] == "core,project")
        #expect(finding.message.contains("core: 0091_step, 0092_step, 0093_step and 2 more; project: 0011_x"), "\(finding.message)")
        #expect(finding.message.contains("docker compose exec app python manage.py migrate"))
        #expect(MigrationsProbe.findings(pending: []).isEmpty)
    }

    @Test func theAnswerIsReusedWithinTheIntervalButACouldNotLookIsAskedAgain() async {
        let engine = FakeDockerEngine()
        engine.add("app")
        engine.execResult = ProcessOutcome(status: 0, stdout: "/usr/src/app/qfieldcloud/core/migrations/0001_initial.py\n", stderr: "", timedOut: false)
        let clock = LockedValue(Date(timeIntervalSince1970: 1_790_000_000))
        // psql cannot start here (a fake runner): the probe could not look, and says so each time.
        let database = QueueDatabase(target: .dsn("postgresql://x@127.0.0.1/db"), runner: FakeRunner(), psql: "/nonexistent/psql")
        let probe = MigrationsProbe(engine: engine, project: "qfieldcloud", database: database, interval: 900, now: { clock.value })
        let first = await probe.collect()
        #expect(first.error?.contains("django_migrations") == true && first.findings.isEmpty, "\(first)")
        _ = await probe.collect()
        #expect(engine.execs.count == 2, "a probe that could not look asks again")
        // A cached answer is reused within the interval.
        probe.last.value = (clock.value, ProbeResult(findings: []))
        clock.value += 899
        _ = await probe.collect()
        #expect(engine.execs.count == 2)
        clock.value += 1
        _ = await probe.collect()
        #expect(engine.execs.count == 3)
    }

    /// psql as it answers when the table is missing: an error in the SQL (exit 3).
    struct NoMigrationsTable: CommandRunner {
        func run(_ command: ProcessCommand) async throws -> ProcessOutcome {
            ProcessOutcome(status: 3, stdout: "", stderr: "ERROR:  relation \"django_migrations\" does not exist\nLINE 1: SELECT app, name FROM django_migrations", timedOut: false)
        }
    }

    @Test func aDatabaseThatWasNeverMigratedHasEveryMigrationPendingWithItsOwnError() async throws {
        let engine = FakeDockerEngine()
        engine.add("app")
        engine.execResult = ProcessOutcome(
            status: 0, stdout: "/usr/src/app/qfieldcloud/core/migrations/0001_initial.py\n/usr/src/app/qfieldcloud/core/migrations/0002_x.py\n",
            stderr: "", timedOut: false)
        let database = QueueDatabase(target: .dsn("postgresql://x@127.0.0.1/db"), runner: NoMigrationsTable(), psql: "psql")
        let result = await MigrationsProbe(engine: engine, project: "qfieldcloud", database: database).collect()
        #expect(result.error == nil, "the database answered: this is a finding, not a probe that could not look")
        let finding = try #require(result.findings.first)
        #expect(finding.kind == .migrationsPending && finding.evidence["pending"] == "2")
        #expect(finding.evidence["database_error"]?.contains("relation \"django_migrations\" does not exist") == true)
        #expect(finding.message.contains("no database migration was ever applied"))
    }

    @Test func withoutARunningAppTheProbeCouldNotLook() async {
        let engine = FakeDockerEngine()
        engine.add("app", state: "exited")
        let database = QueueDatabase(target: .dsn("postgresql://x@127.0.0.1/db"), runner: FakeRunner())
        let result = await MigrationsProbe(engine: engine, project: "qfieldcloud", database: database).collect()
        #expect(result.findings.isEmpty && result.error?.contains("no running app container") == true, "\(result)")
    }
}
