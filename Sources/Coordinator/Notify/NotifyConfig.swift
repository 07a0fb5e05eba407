import Foundation
import Shared

/// One `[[notify]]` block: where messages go and which ones.
struct NotifyChannelConfig: Sendable, Equatable {
    enum Kind: String, Sendable, CaseIterable { case telegram, slack, email, webhook }

    enum Target: Sendable, Equatable {
        case telegram(botTokenFile: String, chatID: String)
        case slack(webhookURLFile: String)
        case email(smtpURL: String, from: String, to: [String], username: String?, passwordFile: String?, starttls: Bool, caFile: String?)
        case webhook(url: String, secretFile: String)
    }

    var name: String
    var kind: Kind
    var target: Target
    /// Empty: every event kind.
    var events: Set<NotificationEvent.Kind>
    /// Ticket events less urgent than this are not sent (fleet events count as P1).
    var minPriority: TicketPriority
    /// Empty: every host. Events without a host (fleet-wide) always pass.
    var hosts: [String]
    /// Events within this window become one message.
    var groupWindow: TimeInterval
    /// Replaces the service's address (tests, a self-hosted Bot API server).
    var apiURL: String?

    /// The events that route by default: everything a person must act on or may stop worrying about.
    static let defaultEvents: Set<NotificationEvent.Kind> = Set(NotificationEvent.Kind.allCases).subtracting([.test])
}

/// `[notify]` defaults for delivery, and the channels.
struct NotifyConfig: Sendable, Equatable {
    var channels: [NotifyChannelConfig] = []
    /// A message that still fails after this many attempts is marked failed.
    var maxAttempts = 10
    /// …or once it is this old.
    var maxAge: TimeInterval = 86_400
    var backoffBase: TimeInterval = 5
    var backoffCap: TimeInterval = 600

    static func load(from reader: ConfigReader) throws(ConfigError) -> NotifyConfig {
        var config = NotifyConfig()
        var names: Set<String> = []
        for block in try reader.tableArray("notify") {
            let channel = try loadChannel(block)
            guard names.insert(channel.name).inserted else {
                throw block.fail("name", "[[notify]] \"\(channel.name)\": another [[notify]] block has the same name; names must be unique")
            }
            config.channels.append(channel)
        }
        config.maxAttempts = try reader.int("notify_delivery.max_attempts", default: config.maxAttempts, range: 1...1000)
        config.maxAge = try reader.duration("notify_delivery.max_age", default: config.maxAge, minimum: 60, maximum: 30 * 86_400)
        config.backoffBase = try reader.duration("notify_delivery.backoff", default: config.backoffBase, minimum: 0.1, maximum: 3600)
        config.backoffCap = try reader.duration("notify_delivery.backoff_cap", default: config.backoffCap, minimum: 1, maximum: 86_400)
        return config
    }

    private static func loadChannel(_ block: ConfigReader) throws(ConfigError) -> NotifyChannelConfig {
        guard let name = try block.string("name"), !name.isEmpty,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw block.fail("name", "every [[notify]] block needs name = \"NAME\" (letters, digits, - and _), e.g. name = \"ops-telegram\"")
        }
        func fail(_ key: String, _ message: String) -> ConfigError { block.fail(key, "[[notify]] \"\(name)\": \(message)") }
        let kindText = try block.string("kind") ?? ""
        guard let kind = NotifyChannelConfig.Kind(rawValue: kindText) else {
            throw fail("kind", "kind must be one of telegram, slack, email, webhook (got \"\(kindText)\")")
        }
        var events = NotifyChannelConfig.defaultEvents
        if block.contains("events") {
            events = []
            for text in try block.stringArray("events", default: []) {
                guard let event = NotificationEvent.Kind(rawValue: text), event != .test else {
                    throw fail("events", "unknown event \"\(text)\"; events are " + NotifyChannelConfig.defaultEvents.map(\.rawValue).sorted().joined(separator: ", "))
                }
                events.insert(event)
            }
            guard !events.isEmpty else { throw fail("events", "events is empty: this channel would never send; remove the block or name events") }
        }
        let priorityText = try block.string("min_priority", default: "P3")
        guard let minPriority = TicketPriority(rawValue: priorityText.uppercased()) else {
            throw fail("min_priority", "min_priority must be one of P0, P1, P2, P3 (got \"\(priorityText)\")")
        }
        let hosts = try block.stringArray("hosts", default: [])
        let window = try block.duration("group_window", default: 10, minimum: 0, maximum: 3600)
        var apiURL = try block.string("api_url")
        if let url = apiURL {
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else { throw fail("api_url", "api_url must be an http(s) URL") }
            apiURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        func file(_ key: String, required: Bool = true) throws(ConfigError) -> String? {
            guard let path = try block.string(key) else {
                if required { throw fail(key, "a \(kind.rawValue) channel needs \(key) = \"/etc/fieldmedic/….secret\" (a file with mode 0600)") }
                return nil
            }
            guard path.hasPrefix("/") else { throw fail(key, "\(key) must be an absolute path") }
            return path
        }
        let target: NotifyChannelConfig.Target
        switch kind {
        case .telegram:
            guard let chat = try block.string("chat_id"), !chat.isEmpty else {
                throw fail("chat_id", "a telegram channel needs chat_id = \"-1001234567890\" (the group's or user's id, or @channelname)")
            }
            target = .telegram(botTokenFile: try file("bot_token_file")!, chatID: chat)
        case .slack:
            target = .slack(webhookURLFile: try file("webhook_url_file")!)
        case .email:
            if apiURL != nil { throw fail("api_url", "api_url does not apply to an email channel; smtp_url is its address") }
            guard let url = try block.string("smtp_url"), url.hasPrefix("smtp://") || url.hasPrefix("smtps://"),
                  let parsed = URL(string: url), parsed.host?.isEmpty == false, parsed.user == nil, parsed.password == nil else {
                throw fail("smtp_url", "smtp_url must be smtps://HOST:465 or smtp://HOST:587 (STARTTLS), without a user or password in it")
            }
            guard let from = try block.string("from"), from.contains("@") else { throw fail("from", "an email channel needs from = \"fieldmedic@example.org\"") }
            let to = try block.stringArray("to", default: [])
            guard !to.isEmpty, to.allSatisfy({ $0.contains("@") && !$0.contains("\n") }) else {
                throw fail("to", "an email channel needs to = [\"ops@example.org\"] (one or more addresses)")
            }
            let starttls = try block.bool("starttls", default: true)
            target = .email(smtpURL: url, from: from, to: to, username: try block.string("username"), passwordFile: try file("password_file", required: false),
                            starttls: starttls, caFile: try file("ca_file", required: false))
        case .webhook:
            guard let url = try block.string("url"), url.hasPrefix("https://") || url.hasPrefix("http://"), URL(string: url)?.host != nil else {
                throw fail("url", "a webhook channel needs url = \"https://ntfy.example.org/fieldmedic\"")
            }
            target = .webhook(url: url, secretFile: try file("secret_file")!)
        }
        try block.finish()
        return NotifyChannelConfig(name: name, kind: kind, target: target, events: events, minPriority: minPriority, hosts: hosts,
                                   groupWindow: window, apiURL: apiURL)
    }

    /// What is allowed but risky.
    var warnings: [String] {
        channels.compactMap { channel in
            if case .email(let url, _, _, _, let password, let starttls, _) = channel.target, url.hasPrefix("smtp://"), !starttls {
                return "[[notify]] \"\(channel.name)\": starttls = false sends mail\(password == nil ? "" : " and the SMTP password") in the clear; only for a relay on this machine"
            }
            if case .webhook(let url, _) = channel.target, url.hasPrefix("http://") {
                return "[[notify]] \"\(channel.name)\": url is plain http; messages travel unencrypted"
            }
            return nil
        }
    }
}
