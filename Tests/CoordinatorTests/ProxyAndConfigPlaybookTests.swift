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
}
