import Foundation
import Shared

/// The channels of `[[notify]]`, with their secrets read from files (mode 0600): the same code
/// for `serve`, `check-config` and `notify test`.
enum NotificationChannels {
    static func make(_ config: NotifyConfig, transport: any HTTPTransport = CurlTransport()) throws -> [String: any NotificationChannel] {
        var channels: [String: any NotificationChannel] = [:]
        for channel in config.channels {
            channels[channel.name] = try make(channel, transport: transport)
        }
        return channels
    }

    static func make(_ channel: NotifyChannelConfig, transport: any HTTPTransport = CurlTransport()) throws -> any NotificationChannel {
        func read(_ path: String, _ what: String) throws -> Secret {
            let text = try SecretFile.readString(path, what: "\(what) of [[notify]] \"\(channel.name)\"").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw OperationalError("[[notify]] \"\(channel.name)\": the \(what) in \(path) is empty; write it into the file (mode 0600)") }
            return Secret(text)
        }
        switch channel.target {
        case .telegram(let tokenFile, let chatID):
            return TelegramChannel(name: channel.name, token: try read(tokenFile, "bot token"), chatID: chatID,
                                   apiURL: channel.apiURL ?? "https://api.telegram.org", transport: transport)
        case .slack(let urlFile):
            let url = try read(urlFile, "Slack webhook URL")
            guard url.revealed.hasPrefix("https://") || url.revealed.hasPrefix("http://") else {
                throw OperationalError("[[notify]] \"\(channel.name)\": \(urlFile) must hold the webhook URL (https://hooks.slack.com/services/…)")
            }
            return SlackChannel(name: channel.name, webhookURL: channel.apiURL.map { Secret($0 + "/" + (URL(string: url.revealed)?.path ?? "").drop { $0 == "/" }) } ?? url,
                                transport: transport)
        case .email(let smtpURL, let from, let to, let username, let passwordFile, let starttls, let caFile):
            return EmailChannel(name: channel.name, smtpURL: smtpURL, from: from, to: to, username: username,
                                password: try passwordFile.map { try read($0, "SMTP password") }, starttls: starttls, caFile: caFile)
        case .webhook(let url, let secretFile):
            return WebhookChannel(name: channel.name, url: channel.apiURL ?? url, secret: try read(secretFile, "webhook secret"), transport: transport)
        }
    }
}
