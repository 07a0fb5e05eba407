import Foundation
import GRDB
import Shared
import Testing

/// The CLIs' contracts: exit codes, config errors with file and line, audit verification.
@Suite(.serialized) struct CLIEndToEndTests {
    @Test func auditVerifyFindsEditedDeletedAndInsertedRows() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        _ = try h.addAgent("vps-1")
        _ = try h.addAgent("vps-2")
        _ = try h.addAgent("vps-3")
        try h.stopCoordinator()
        let intact = try h.coordinator(["audit", "verify"])
        try intact.expectSuccess("audit verify")
        #expect(intact.stdout.contains("intact: 5 rows"), "\(intact.stdout)")

        let tamperings: [(String, String, String)] = [
            ("edited", "UPDATE audit_log SET subject = 'mallory' WHERE id = 3", "row 3"),
            ("deleted", "DELETE FROM audit_log WHERE id = 3", "row 4"),
            ("inserted", """
                UPDATE audit_log SET id = id + 1000 WHERE id >= 3;
                UPDATE audit_log SET id = id - 999 WHERE id >= 1003;
                INSERT INTO audit_log (id, at, actor, action, subject, details, previous_hash, hash)
                SELECT 3, at, 'operator:mallory', 'token.created', 'evil', '{}', hash, hash FROM audit_log WHERE id = 2;
                """, "row 3"),
        ]
        for (label, sql, expected) in tamperings {
            let copy = h.root + "/copy-\(label)"
            try FileManager.default.copyItem(atPath: h.dataDir, toPath: copy)
            let config = copy + "/coordinator.toml"
            let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: h.dataDir, with: copy)
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let db = try DatabaseQueue(path: copy + "/coordinator.sqlite3")
            try db.write { try $0.execute(sql: sql) }
            try db.close()
            let verdict = try h.run(Harness.coordinatorBinary, ["audit", "verify", "--config", config])
            #expect(verdict.status == 1, "\(label): \(verdict.stdout)")
            #expect(verdict.stderr.contains("broken at \(expected)"), "\(label): \(verdict.stderr)")
        }
    }

    @Test func checkConfigPassesOnAFreshlyInitialisedCoordinator() throws {
        let h = try Harness()
        try h.initCoordinator()
        let check = try h.coordinator(["check-config"])
        try check.expectSuccess("coordinator check-config")
        #expect(check.stdout.contains(": ok"), "\(check.stdout)")
    }

    @Test func configErrorsExitTwoWithFileAndLine() throws {
        let h = try Harness()
        let path = h.root + "/agent.toml"
        try "name = \"vps-1\"\n\n[coordinator]\nurl = \"http://ops:8443\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let check = try h.run(Harness.agentBinary, ["check-config", "--config", path])
        #expect(check.status == 2)
        #expect(check.stderr.contains("\(path):4: coordinator.url must start with https://"), "\(check.stderr)")

        try "name = \"vps-1\"\n[coordinator]\nurl = \"https://ops:8443\"\n[report]\ninterval = \"1m\"\nintervall = \"5s\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let typo = try h.run(Harness.agentBinary, ["check-config", "--config", path])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("\(path):6: unknown key \"report.intervall\""), "\(typo.stderr)")

        try "name = \"vps-1\"\n[coordinator]\nurl = \"https://ops:8443\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let ok = try h.run(Harness.agentBinary, ["check-config", "--config", path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("not enrolled yet"))

        let notEnrolled = try h.run(Harness.agentBinary, ["run", "--config", path])
        #expect(notEnrolled.status == 1)
        #expect(notEnrolled.stderr.contains("not enrolled"), "\(notEnrolled.stderr)")

        let coordinatorConfig = h.root + "/coordinator.toml"
        try "data_dir = \"relative\"\n".write(toFile: coordinatorConfig, atomically: true, encoding: .utf8)
        let serve = try h.run(Harness.coordinatorBinary, ["serve", "--config", coordinatorConfig])
        #expect(serve.status == 2)
        #expect(serve.stderr.contains("\(coordinatorConfig):1: data_dir must be an absolute path"), "\(serve.stderr)")

        let usage = try h.run(Harness.coordinatorBinary, ["agents", "add"])
        #expect(usage.status == 2)
        let version = try h.run(Harness.agentBinary, ["--version"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == FieldMedicVersion.current)
    }

    @Test func localDiagnosePrintsATableAndJSON() throws {
        let h = try Harness()
        let path = h.root + "/agent.toml"
        try "name = \"vps-1\"\n[coordinator]\nurl = \"https://ops:8443\"\n[disks]\nmounts = [\"/\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let table = try h.run(Harness.agentBinary, ["diagnose", "--local", "--config", path])
        try table.expectSuccess("diagnose --local")
        #expect(table.stdout.contains("MOUNT") && table.stdout.contains("HOST"), "\(table.stdout)")
        let json = try h.run(Harness.agentBinary, ["diagnose", "--local", "--json", "--config", path])
        try json.expectSuccess("diagnose --local --json")
        let report = try WireCodec.decodeStored(HealthReport.self, from: Data(json.stdout.utf8))
        #expect(report.agent == "vps-1")
        #expect(report.disks?.first?.mount == "/")
    }
}
