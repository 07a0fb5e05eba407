import Foundation
import Testing
@testable import Coordinator
@testable import Shared

@Suite struct TicketConfigTests {
    func load(_ text: String) throws(ConfigError) -> TicketConfig {
        let reader = try ConfigReader(text: text, path: "coordinator.toml")
        let config = try TicketConfig.load(from: reader)
        try reader.finish()
        return config
    }

    func error(_ text: String) -> ConfigError? {
        do { _ = try load(text); return nil } catch { return error }
    }

    @Test func noGitHubMeansOutboxModeWithDefaults() throws {
        let config = try load("")
        #expect(config.mode == .fix)
        #expect(config.github == nil)
        #expect(config.guardrails == GuardrailConfig())
        #expect(config.playbook == .builtIn)
    }

    @Test func theFullContractParses() throws {
        let config = try load("""
            mode = "propose"
            [listen]
            webhook = "127.0.0.1:8091"
            [github]
            repo = "acme/ops"
            api_url = "http://127.0.0.1:9/"
            token_file = "/etc/fieldmedic/github.token"
            webhook_secret_file = "/etc/fieldmedic/hook.secret"
            poll_interval = "30s"
            label = "fieldmedic"
            approvers = ["alice"]
            mentions = ["oncall"]
            [guardrails]
            budget_per_hour = 2
            approval_timeout = "2h"
            [playbook."service.down"]
            policy = "approve"
            [playbook."disk.high"]
            actions = ["prune_docker"]
            policy = "never"
            """)
        #expect(config.mode == .propose)
        #expect(config.github?.apiURL == "http://127.0.0.1:9")
        #expect(config.github?.pollInterval == 30)
        #expect(config.github?.approvers == ["alice"])
        #expect(config.webhookListen == ListenAddress(host: "127.0.0.1", port: 8091))
        #expect(config.guardrails.budgetPerHour == 2)
        #expect(config.guardrails.approvalTimeout == 7200)
        #expect(config.playbook.entries["service.down"]?.policy == .approve)
        #expect(config.playbook.entries["disk.high"]?.policy == .never)
    }

    @Test func mistakesAreNamedWithTheirLine() {
        #expect(error("mode = \"yolo\"")?.message.contains("observe, propose, fix") == true)
        #expect(error("[github]\nrepo = \"acme\"")?.line == 2)
        #expect(error("[github]\nlabel = \"x\"")?.message.contains("needs repo") == true)
        #expect(error("[github]\nrepo = \"a/b\"\ntoken_file = \"relative\"")?.message.contains("absolute") == true)
        #expect(error("[listen]\nwebhook = \"127.0.0.1:8091\"\n[github]\nrepo = \"a/b\"")?.message.contains("webhook_secret_file") == true)
        #expect(error("[github]\nrepo = \"a/b\"\nwebhook_secret_file = \"/s\"")?.message.contains("[listen] webhook") == true)
        #expect(error("[playbook.\"disk.high\"]\npolicy = \"sometimes\"")?.message.contains("auto, approve or never") == true)
        #expect(error("[playbook.\"disk.high\"]\nactions = [\"rm_rf\"]")?.message.contains("not a fix") == true)
        #expect(error("[playbook.\"disk.high\"]\nwhen = \"now\"") != nil, "unknown keys stay errors")
    }
}
