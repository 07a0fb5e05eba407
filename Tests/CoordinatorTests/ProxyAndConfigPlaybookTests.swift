import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// The operator's settings are the operator's: proxy errors, a bad `.env` and a compose file
/// compose rejects get no automatic fix, only the next steps — the finding's own message
/// first (it names the setting and the line).
@Suite struct ProxyAndConfigPlaybookTests {
    @Test func proxyErrorsConfigAndComposeFindingsEscalateWithTheirNextSteps() {
        let findings = [
            Finding(.proxyErrors, severity: .critical, subject: "nginx:413", message: "nginx answered 413 …"),
            Finding(.configInvalid, severity: .warning, subject: ".env QFIELDCLOUD_HOST", message: "/opt/qfc/.env:4: …"),
            Finding(.composeInvalid, severity: .critical, subject: "compose", message: "compose rejects …"),
        ]
        let (plan, escalate) = Playbook.builtIn.plan(for: findings)
        #expect(plan.steps.isEmpty, "nothing FieldMedic may change itself: \(plan.steps)")
        #expect(!escalate)
        #expect(plan.manual.contains { $0.hasPrefix("proxy.errors on nginx:413: ") && $0.contains("docker compose logs") })
        #expect(plan.manual.contains { $0.hasPrefix("config.invalid on .env QFIELDCLOUD_HOST: ") && $0.contains("file:line") })
        #expect(plan.manual.contains { $0.hasPrefix("compose.invalid on compose: ") && $0.contains("config -q") })
        #expect([FindingCode.proxyErrors, .configInvalid, .composeInvalid].allSatisfy { $0.origin == .agent })
    }

    /// worker.cannot_start has four causes: the next steps name the one the evidence shows
    /// (a generated install shape got all four for a shared worker label), all when none is named.
    @Test func workerCannotStartNextStepsFollowTheEvidence() {
        func manual(_ evidence: [String: String]) -> [String] {
            Playbook.builtIn.plan(for: [Finding(.workerCannotStart, severity: .critical, subject: "worker_wrapper", message: "…", evidence: evidence)]).plan.manual
        }
        let label = manual(["environment": "test", "shared_label_projects": "other", "job_label": "app=test_worker"])
        #expect(label.count == 1 && label[0].contains("Shared worker label"), "\(label)")
        let two = manual(["missing_images": "qfc-qgis3", "network_missing": "true"])
        #expect(two.count == 2 && two[0].contains("Missing QGIS image") && two[1].contains("Missing job network"), "\(two)")
        #expect(manual([:]).count == 4)
    }

    @Test func theReportShowsProxyErrorRatesPerEndpointFamily() {
        var ticket = Ticket(source: .github, title: "uploads fail", body: "", author: "u", now: Date())
        ticket.host = "vps-1"
        ticket.targets = [
            Finding(.proxyErrors, severity: .critical, subject: "nginx:413", message: "nginx answered 413 …", evidence: [
                "status": "413", "window": "15m", "files_errors": "4", "files_requests": "14", "files_percent": "28.6",
                "files_sample": "/api/v1/files/p1/", "deltas_errors": "3", "deltas_requests": "3", "deltas_percent": "100.0",
            ]),
            Finding(.proxyErrors, severity: .critical, subject: "nginx:host_case", message: "QFIELDCLOUD_HOST has capitals", evidence: ["sent_host": "localhost"]),
        ]
        let report = TicketReport.render(ticket, mode: .fix, mentions: [])
        #expect(report.contains("#### Proxy errors (nginx)"))
        #expect(report.contains("| 413 | deltas | 3 | 3 | 100.0 % | 15m | — |"))
        #expect(report.contains("| 413 | files | 4 | 14 | 28.6 % | 15m | `/api/v1/files/p1/` |"))
        #expect(TicketReport.proxyErrorRows(ticket.targets).count == 2, "the host-case finding has no rates")

        ticket.targets = [Finding(.diskHigh, severity: .warning, subject: "/", message: "disk")]
        #expect(!TicketReport.render(ticket, mode: .fix, mentions: []).contains("Proxy errors"), "only when present")
    }

    @Test func aRenewedCertificateNginxHasNotLoadedIsReloadedWithoutAsking() {
        let finding = Finding(.tlsMismatch, severity: .warning, subject: "nginx:certificate", message: "nginx serves …")
        let (plan, escalate) = Playbook.builtIn.plan(for: [finding])
        #expect(plan.steps.map(\.action) == ["reload_nginx"] && plan.steps.first?.policy == .auto && plan.steps.first?.params == [:])
        #expect(!escalate)
        #expect(ActionKind.reloadNginx.changesHost && !ActionKind.reloadNginx.takesService)
    }
}
