import Foundation
import Testing
@testable import Coordinator
@testable import Shared

@Suite struct TicketPriorityTests {
    func finding(_ code: FindingCode, _ subject: String) -> Finding {
        Finding(code, severity: .critical, subject: subject, message: "\(code.rawValue) on \(subject)")
    }

    @Test func whatIsAffectedAndHowDecideThePriority() {
        #expect(TicketPriority.of(finding(.serviceDown, "nginx")) == .p0, "nobody reaches the app")
        #expect(TicketPriority.of(finding(.serviceDown, "worker_wrapper")) == .p1, "jobs wait, sync works")
        #expect(TicketPriority.of(finding(.storageUnreachable, "default")) == .p0, "nobody can sync files")
        #expect(TicketPriority.of(finding(.queueStuck, "core_job")) == .p1)
        #expect(TicketPriority.of(finding(.diskFullPredicted, "/")) == .p2)
        #expect(TicketPriority.of(Finding(code: "alert.Unknown", severity: .warning, subject: "x", message: "?")) == .p3, "an unknown code")
        var ticket = Ticket(source: .github, title: "it keeps logging me out", body: "", author: "u", now: Date())
        #expect(ticket.priority(.builtIn) == .p3, "a report no finding explains yet")
        ticket.targets = [finding(.diskHigh, "/"), finding(.serviceDown, "app")]
        #expect(ticket.priority(.builtIn) == .p0, "the most urgent finding decides")
    }

    @Test func clientsThatGaveUpAloneDoNotPageButProxyRefusalsDo() {
        // Phones on bad networks close connections (499) on a healthy server.
        #expect(TicketPriority.of(finding(.proxyErrors, "nginx:499")) == .p2)
        var ticket = Ticket(source: .github, title: "sync is slow", body: "", author: "u", now: Date())
        ticket.targets = [finding(.proxyErrors, "nginx:499")]
        #expect(ticket.priority(.builtIn) == .p2)
        ticket.targets.append(finding(.proxyErrors, "nginx:504"))
        #expect(ticket.priority(.builtIn) == .p0, "with 5xx beside them it pages")
        #expect(TicketPriority.of(finding(.proxyErrors, "nginx:413")) == .p0)
        #expect(TicketPriority.of(finding(.proxyErrors, "nginx:host_case")) == .p0)
        #expect(TicketPriority.of(finding(.proxyErrors, "nginx:403")) == .p1, "the web login fails; QField's token sync works")
    }

    @Test func aCertificateNginxHasNotLoadedWaitsButABrokenChainPages() {
        #expect(TicketPriority.of(Finding(.tlsMismatch, severity: .warning, subject: "nginx:certificate", message: "")) == .p1)
        #expect(TicketPriority.of(Finding(.tlsMismatch, severity: .critical, subject: "nginx:certificate", message: "")) == .p0, "the served one expired")
        #expect(TicketPriority.of(Finding(.tlsMismatch, severity: .critical, subject: "nginx:chain", message: "")) == .p0)
    }

    @Test func aPriorityCanBeSetPerFindingInCoordinatorToml() throws {
        let reader = try ConfigReader(text: "[playbook.\"disk.high\"]\npriority = \"p0\"\n", path: "coordinator.toml")
        let config = try TicketConfig.load(from: reader)
        #expect(config.playbook.priority(of: finding(.diskHigh, "/")) == .p0)
        let bad = try ConfigReader(text: "[playbook.\"disk.high\"]\npriority = \"urgent\"\n", path: "coordinator.toml")
        #expect(throws: ConfigError.self) { _ = try TicketConfig.load(from: bad) }
    }

    @Test func thePriorityIsALabelOnGitHubAndInTheReportAndTheList() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "Packages are not being generated since yesterday")
        try await f.intake.poll()
        try await f.settle()
        let labels = f.github.issues[issue.number]?.labels ?? []
        #expect(labels.contains("priority:P1"), "\(labels)")
        #expect(f.github.reportBody(issue.number)?.contains("**P1**") == true)
        let ticket = try await f.ticket(issue: issue.number)
        #expect(TicketSummary(ticket).priority == "P1")
    }
}
