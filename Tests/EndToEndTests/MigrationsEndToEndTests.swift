import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// `migrations.pending` on the testbed: the app container carries migration files (mounted
/// where QFieldCloud's image keeps its code), the real PostgreSQL has `django_migrations`.
/// An update that ships a migration nobody applied, then `migrate` recording it.
@Suite(.serialized) struct MigrationsEndToEndTests {
    let env: TestEnvironment

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
    }

    func probe() -> MigrationsProbe {
        let database = QueueDatabase(target: .dsn(env.pgDSN), runner: SubprocessRunner(), psql: PsqlLocator.locate())
        return MigrationsProbe(engine: DockerEngineClient(socketPath: env.dockerSocket), project: env.project, database: database, interval: 0)
    }

    @Test func aMigrationTheCodeShipsButTheDatabaseLacksIsPendingUntilApplied() async throws {
        let healthy = await probe().collect()
        #expect(healthy.error == nil && healthy.findings.isEmpty, "\(healthy)")

        // The update: a new migration file in the app's code.
        let file = env.testbedDir + "/app/src/qfieldcloud/core/migrations/0003_fieldmedic_pending.py"
        try "# a migration shipped by an update\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer {
            unlink(file)
            _ = try? env.psql("DELETE FROM django_migrations WHERE name = '0003_fieldmedic_pending';")
        }
        let finding = try #require(await probe().collect().findings.first, "the new migration must be pending")
        #expect(finding.kind == .migrationsPending && finding.evidence["migrations"] == "core.0003_fieldmedic_pending", "\(finding.evidence)")

        // What `manage.py migrate` records once it ran.
        _ = try env.psql("INSERT INTO django_migrations (app, name, applied) VALUES ('core', '0003_fieldmedic_pending', now());")
        let applied = await probe().collect()
        #expect(applied.error == nil && applied.findings.isEmpty, "\(applied)")
    }
}
}
