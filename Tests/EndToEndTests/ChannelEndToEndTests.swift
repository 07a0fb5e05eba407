import Foundation
import GRDB
import Shared
import Testing
import X509

/// The real binaries on loopback: enrollment, reports, diagnose, spool replay, renewal,
/// interrupted commands.
@Suite(.serialized) struct ChannelEndToEndTests {
    @Test func enrollReportAndDiagnose() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "300ms")
        // The enrolled agent's key never left the host and is private.
        var info = stat()
        #expect(stat(h.agentState("vps-1") + "/agent.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        try h.startAgent("vps-1")
        try h.waitUntil("three reports arrive", timeout: 30) { try h.storedSequences("vps-1").count >= 3 }

        let list = try h.coordinator(["agents", "list", "--json"])
        try list.expectSuccess("agents list")
        let agents = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(agents.first?["name"] as? String == "vps-1")
        #expect(agents.first?["state"] as? String == "active")
        #expect(agents.first?["online"] as? Bool == true)
        #expect(agents.first?["certificateNotAfter"] != nil)

        let show = try h.coordinator(["hosts", "show", "vps-1"])
        try show.expectSuccess("hosts show")
        #expect(show.stdout.contains("MOUNT"), "\(show.stdout)")

        let diagnose = try h.coordinator(["diagnose", "vps-1", "--json"])
        try diagnose.expectSuccess("diagnose")
        let record = try JSONSerialization.jsonObject(with: Data(diagnose.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(record["state"] as? String == "succeeded")
        let result = record["result"] as? [String: Any]
        let diagnosis = result?["diagnosis"] as? [String: Any]
        #expect((diagnosis?["host"] as? [String: Any])?["hostname"] != nil)
        #expect((diagnosis?["disks"] as? [[String: Any]])?.first?["mount"] as? String == "/")

        let table = try h.coordinator(["diagnose", "vps-1"])
        try table.expectSuccess("diagnose table")
        #expect(table.stdout.contains("PROBE"))

        try h.stopAgent("vps-1")
        try h.stopCoordinator()
        let verify = try h.coordinator(["audit", "verify"])
        try verify.expectSuccess("audit verify")
        #expect(verify.stdout.contains("intact"))
        let actions = try h.auditActions()
        for action in ["coordinator.initialised", "token.created", "agent.enrolled", "config.loaded", "command.queued", "command.sent", "command.result"] {
            #expect(actions.contains(action), "missing audit action \(action) in \(actions)")
        }
    }

    @Test func reportsSpooledWhileTheCoordinatorIsDownArriveInOrderOnce() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "200ms")
        try h.startAgent("vps-1")
        try h.waitUntil("first reports arrive", timeout: 30) { try h.storedSequences("vps-1").count >= 2 }
        try h.stopCoordinator()
        try h.waitUntil("the agent spools at least 10 reports", timeout: 30) { (try? h.spoolCount("vps-1")) ?? 0 >= 10 }
        try h.startCoordinator()
        try h.waitUntil("the spool drains", timeout: 60) { (try? h.spoolCount("vps-1")) == 0 }
        try h.stopAgent("vps-1")
        let sequences = try h.storedSequences("vps-1")
        #expect(sequences.count >= 12)
        #expect(sequences == Array(1...sequences.count), "stored out of order, twice or with a gap: \(sequences)")
        #expect(h.log("agent-vps-1").contains("replayed the spool"))
    }

    @Test func theAgentRenewsItsCertificateBeforeItExpires() throws {
        let h = try Harness()
        try h.initCoordinator(agentsSettings: ["cert_lifetime": "\"6s\""])
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "250ms")
        let original = try PEMFile.readCertificate(h.agentState("vps-1") + "/agent.pem")
        try h.startAgent("vps-1")
        try h.waitUntil("the certificate is renewed", timeout: 30) {
            (try? PEMFile.readCertificate(h.agentState("vps-1") + "/agent.pem"))?.serialNumber != original.serialNumber
        }
        // Reports keep arriving after the first certificate's end of life.
        try h.waitUntil("the original certificate has expired", timeout: 30) { Date() > original.notValidAfter.addingTimeInterval(1) }
        let before = try h.storedSequences("vps-1").count
        try h.waitUntil("reports arrive with the renewed certificate", timeout: 30) { try h.storedSequences("vps-1").count >= before + 3 }
        try h.stopAgent("vps-1")
        #expect(try h.auditActions().contains("certificate.renewed"))
    }

    @Test func aCommandInterruptedByACrashIsReportedNotRerun() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        try h.enrollAgent("vps-1", interval: "1s")
        try h.startAgent("vps-1", environment: ["FIELDMEDIC_AGENT_TEST_HOLD_COMMAND": "120s"])
        let queued = try h.operatorPOST("/operator/agents/vps-1/commands", #"{"kind":"diagnose","params":{},"dryRun":false}"#)
        #expect(queued.status == 202)
        let id = try #require((try JSONSerialization.jsonObject(with: queued.body) as? [String: Any])?["id"] as? String)
        try h.waitUntil("the agent journals the command", timeout: 30) {
            (try? h.agentDatabase("vps-1").read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE command_id = ? AND event = 'received'", arguments: [id]) ?? 0
            }) == 1
        }
        try h.killAgent("vps-1")
        try h.startAgent("vps-1")
        try h.waitUntil("the command is reported interrupted", timeout: 30) {
            ((try? h.operatorJSON("/operator/commands/\(id)")) as? [String: Any])?["state"] as? String == "interrupted"
        }
        try h.stopAgent("vps-1")
        let events = try h.agentDatabase("vps-1").read { db in
            try String.fetchAll(db, sql: "SELECT event FROM journal WHERE command_id = ? ORDER BY id", arguments: [id])
        }
        #expect(events == ["received", "finished", "reported"])
    }
}
