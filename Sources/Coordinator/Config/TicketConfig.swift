import Foundation
import Shared

/// Rollout modes, as a new install should be run: watch first, then propose, then fix.
enum RolloutMode: String, Sendable, CaseIterable {
    /// Diagnose and report only; never queue a fix.
    case observe
    /// Every fix needs an approval.
    case propose
    /// The playbook's policy decides.
    case fix
}

/// `[github]`: where tickets come from and reports go. Absent → outbox mode.
struct GitHubConfig: Sendable, Equatable {
    var repository: String
    var apiURL: String
    var tokenFile: String?
    var webhookSecretFile: String?
    /// 0 disables polling (webhook only).
    var pollInterval: TimeInterval
    var label: String?
    var approvers: [String]
    /// Anyone with write (or higher) permission on the repository may also approve.
    var approveWithWritePermission: Bool
    var mentions: [String]
}

/// `[guardrails]`: the coordinator's own limits on automatic fixes.
struct GuardrailConfig: Sendable, Equatable {
    var budgetPerHour = 3
    var budgetPerDay = 7
    /// Failed or unverified fixes fleet-wide within `breakerWindow` that open the breaker.
    var breakerFailures = 5
    var breakerWindow: TimeInterval = 3600
    var approvalTimeout: TimeInterval = 86_400
    /// How long to wait for an agent's answer to a command.
    var commandTimeout: TimeInterval = 300
}

struct TicketConfig: Sendable, Equatable {
    var mode: RolloutMode = .fix
    var github: GitHubConfig?
    var webhookListen: ListenAddress?
    var playbook: Playbook = .builtIn
    var guardrails = GuardrailConfig()
    var predict = PredictConfig()

    static func load(from reader: ConfigReader) throws(ConfigError) -> TicketConfig {
        var config = TicketConfig()
        let modeText = try reader.string("mode", default: "fix")
        guard let mode = RolloutMode(rawValue: modeText) else {
            throw reader.fail("mode", "mode must be one of observe, propose, fix (got \"\(modeText)\")")
        }
        config.mode = mode

        if let repository = try reader.string("github.repo") {
            let parts = repository.split(separator: "/")
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
                throw reader.fail("github.repo", "github.repo must be OWNER/NAME, e.g. repo = \"acme/qfieldcloud-ops\"")
            }
            let apiURL = try reader.string("github.api_url", default: "https://api.github.com")
            guard apiURL.hasPrefix("https://") || apiURL.hasPrefix("http://") else {
                throw reader.fail("github.api_url", "github.api_url must be an http(s) URL, e.g. https://api.github.com")
            }
            let tokenFile = try reader.string("github.token_file")
            let secretFile = try reader.string("github.webhook_secret_file")
            for (key, value) in [("github.token_file", tokenFile), ("github.webhook_secret_file", secretFile)] {
                if let value, !value.hasPrefix("/") { throw reader.fail(key, "\(key) must be an absolute path") }
            }
            let label = try reader.string("github.label")
            config.github = GitHubConfig(
                repository: repository,
                apiURL: apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL,
                tokenFile: tokenFile,
                webhookSecretFile: secretFile,
                pollInterval: try reader.duration("github.poll_interval", default: 60, minimum: 0),
                label: label?.isEmpty == true ? nil : label,
                approvers: try reader.stringArray("github.approvers", default: []),
                approveWithWritePermission: try reader.bool("github.approve_with_write_permission", default: false),
                mentions: try reader.stringArray("github.mentions", default: []))
            if config.github!.pollInterval == 0 && secretFile == nil {
                throw reader.fail("github.poll_interval", "with poll_interval = \"0s\" (no polling) set webhook_secret_file, or no issue ever arrives")
            }
        } else if reader.contains("github") {
            throw reader.fail("github", "[github] needs repo = \"OWNER/NAME\" (or remove [github] to run in outbox mode)")
        }
        if let text = try reader.string("listen.webhook") {
            guard let address = ListenAddress(text) else {
                throw reader.fail("listen.webhook", "listen.webhook must be HOST:PORT, e.g. webhook = \"127.0.0.1:8091\"")
            }
            guard config.github?.webhookSecretFile != nil else {
                throw reader.fail("listen.webhook", "listen.webhook needs github.webhook_secret_file: unsigned deliveries are never accepted")
            }
            config.webhookListen = address
        } else if config.github?.webhookSecretFile != nil {
            throw reader.fail("github.webhook_secret_file", "github.webhook_secret_file is set but [listen] webhook is not; add webhook = \"127.0.0.1:8091\"")
        }

        var overrides: [String: Playbook.Override] = [:]
        for code in reader.subtableNames("playbook") {
            var override = Playbook.Override()
            if let text = try reader.string(path: ["playbook", code, "policy"]) {
                guard let policy = PlaybookPolicy(rawValue: text) else {
                    throw reader.fail(ConfigReader.display(["playbook", code, "policy"]), "policy must be auto, approve or never (got \"\(text)\")")
                }
                override.policy = policy
            }
            if let text = try reader.string(path: ["playbook", code, "priority"]) {
                guard let priority = TicketPriority(rawValue: text.uppercased()) else {
                    throw reader.fail(ConfigReader.display(["playbook", code, "priority"]), "priority must be P0, P1, P2 or P3 (got \"\(text)\")")
                }
                override.priority = priority
            }
            let key = ConfigReader.display(["playbook", code, "actions"])
            let actions = try reader.stringArray(key, default: [])
            if !actions.isEmpty {
                let fixes = ActionKind.allCases.filter(\.changesHost)
                override.actions = try actions.map { name throws(ConfigError) -> ActionKind in
                    guard let action = ActionKind(rawValue: name), action.changesHost else {
                        throw reader.fail(key, "\"\(name)\" is not a fix; fixes are: \(fixes.map(\.rawValue).sorted().joined(separator: ", "))")
                    }
                    return action
                }
            }
            overrides[code] = override
        }
        config.playbook = Playbook.builtIn.overriding(overrides)
        // Added to the built-in list, never instead of it: db and object storage always need an approver.
        let stateful = try reader.stringArray("guardrails.stateful_services", default: [])
        config.playbook.statefulServices = Playbook.defaultStatefulServices.union(stateful)

        config.guardrails.budgetPerHour = try reader.int("guardrails.budget_per_hour", default: 3, range: 0...1000)
        config.guardrails.budgetPerDay = try reader.int("guardrails.budget_per_day", default: 7, range: 0...10_000)
        config.guardrails.breakerFailures = try reader.int("guardrails.breaker_failures", default: 5, range: 1...10_000)
        config.guardrails.breakerWindow = try reader.duration("guardrails.breaker_window", default: 3600, minimum: 60)
        config.guardrails.approvalTimeout = try reader.duration("guardrails.approval_timeout", default: 86_400, minimum: 1)
        config.guardrails.commandTimeout = try reader.duration("guardrails.command_timeout", default: 300, minimum: 1)

        var p = PredictConfig()
        p.enabled = try reader.bool("predict.enabled", default: true)
        p.rawRetention = try reader.duration("predict.raw_retention", default: p.rawRetention, minimum: 3600)
        p.hourlyRetention = try reader.duration("predict.hourly_retention", default: p.hourlyRetention, minimum: 86_400)
        p.diskWindow = try reader.duration("predict.disk_window", default: p.diskWindow, minimum: 1)
        p.diskHorizon = try reader.duration("predict.disk_horizon", default: p.diskHorizon, minimum: 1)
        p.diskFreeBelow = try reader.double("predict.disk_free_below", default: p.diskFreeBelow, range: 0...100)
        p.diskThreshold = try reader.double("predict.disk_threshold", default: p.diskThreshold, range: 1...100)
        p.hold = try reader.duration("predict.hold", default: p.hold, minimum: 0)
        p.diskRecentWindow = try reader.duration("predict.disk_recent_window", default: p.diskRecentWindow, minimum: 0)
        p.queueWindow = try reader.duration("predict.queue_window", default: p.queueWindow, minimum: 1)
        p.queueMinPending = try reader.double("predict.queue_min_pending", default: p.queueMinPending, range: 0...1_000_000)
        p.queueHold = try reader.duration("predict.queue_hold", default: p.queueHold, minimum: 0)
        p.crashloopWindow = try reader.duration("predict.crashloop_window", default: p.crashloopWindow, minimum: 1)
        p.crashloopRestarts = try reader.double("predict.crashloop_restarts", default: p.crashloopRestarts, range: 1...10_000)
        p.persistReports = try reader.int("predict.persist_reports", default: p.persistReports, range: 1...100)
        p.reopenWithin = try reader.duration("predict.reopen_within", default: p.reopenWithin, minimum: 0)
        p.evaluateEvery = try reader.duration("predict.evaluate_every", default: p.evaluateEvery, minimum: 0.1)
        p.minPoints = try reader.int("predict.min_points", default: p.minPoints, range: 3...100_000)
        config.predict = p
        return config
    }
}
