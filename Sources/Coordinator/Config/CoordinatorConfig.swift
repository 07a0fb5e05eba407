import Foundation
import Shared

/// `coordinator.toml`: where state lives, where to listen, and the fleet's lifetimes.
struct CoordinatorConfig: Sendable {
    var path: String
    var dataDir: String
    var agentsListen: ListenAddress
    /// The URL agents use to reach `agentsListen` (behind NAT or a DNS name), for the enroll
    /// command `agents add` prints; nil: derived from the listen address.
    var agentsPublicURL: String?
    var operatorListen: ListenAddress
    var certificateLifetime: TimeInterval
    var tokenLifetime: TimeInterval
    var offlineAfter: TimeInterval
    var maxBodyBytes: Int
    var maxLongPoll: TimeInterval
    var tickets: TicketConfig
    /// `[listen] ingest` + `[ingest]`: alerts in (nil: no ingest listener).
    var ingest: IngestConfig? = nil
    /// `[[notify]]` channels and `[notify_delivery]`.
    var notify = NotifyConfig()
    /// The dashboard and /metrics listener; nil when `listen.web` is not set.
    var web: WebConfig?

    static let defaultPath = "/etc/fieldmedic/coordinator.toml"

    static func load(path: String) throws(ConfigError) -> CoordinatorConfig {
        let reader = try ConfigReader(path: path)
        let dataDir = try reader.string("data_dir", default: "/var/lib/fieldmedic-coordinator")
        guard dataDir.hasPrefix("/") else {
            throw reader.fail("data_dir", "data_dir must be an absolute path, e.g. data_dir = \"/var/lib/fieldmedic-coordinator\"")
        }
        func address(_ key: String, _ fallback: String) throws(ConfigError) -> ListenAddress {
            let text = try reader.string(key, default: fallback)
            guard let address = ListenAddress(text) else {
                throw reader.fail(key, "\(key) must be HOST:PORT, e.g. \(key.split(separator: ".").last!) = \"\(fallback)\"")
            }
            return address
        }
        var publicURL: String?
        if let text = try reader.string("agents.public_url") {
            guard text.hasPrefix("https://"), URL(string: text)?.host?.isEmpty == false, !text.contains("@") else {
                throw reader.fail("agents.public_url", "agents.public_url must be the https URL agents use, e.g. public_url = \"https://ops.example.org:8443\"")
            }
            publicURL = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        // Every bound is here, so `check-config` and `serve` accept and refuse the same files.
        var config = CoordinatorConfig(
            path: path,
            dataDir: dataDir,
            agentsListen: try address("listen.agents", "0.0.0.0:8443"),
            agentsPublicURL: publicURL,
            operatorListen: try address("listen.operator", "127.0.0.1:8080"),
            // Well inside the CA's ten years; agents renew at two thirds of it.
            certificateLifetime: try reader.duration("agents.cert_lifetime", default: 30 * 86_400, minimum: 3, maximum: 825 * 86_400),
            tokenLifetime: try reader.duration("agents.token_lifetime", default: 3600, minimum: 1, maximum: 7 * 86_400),
            offlineAfter: try reader.duration("agents.offline_after", default: 180, minimum: 1, maximum: 7 * 86_400),
            maxBodyBytes: try reader.int("limits.max_body_bytes", default: 1 << 20, range: 1024...(64 << 20)),
            // The agent listener closes connections idle for 300 s.
            maxLongPoll: try reader.duration("limits.max_long_poll", default: 60, minimum: 1, maximum: 290),
            tickets: try TicketConfig.load(from: reader),
            notify: try NotifyConfig.load(from: reader),
            web: try WebConfig.load(from: reader))
        config.ingest = try IngestConfig.load(from: reader)
        try reader.finish()
        return config
    }

    var paths: CoordinatorPaths { CoordinatorPaths(dataDir: dataDir) }

    /// What is allowed but risky, said by `serve` (a warning in the log) and `check-config`.
    var warnings: [String] {
        var warnings: [String] = []
        if !operatorListen.isLoopback {
            warnings.append("listen.operator = \"\(operatorListen)\" is not a loopback address: the operator API (plain HTTP, one bearer token for every action) is reachable from the network; use 127.0.0.1 unless a TLS proxy in front of it is the only way in")
        }
        if let webhook = tickets.webhookListen, !webhook.isLoopback {
            warnings.append("listen.webhook = \"\(webhook)\" is not a loopback address: deliveries arrive as plain HTTP; put it behind a TLS reverse proxy")
        }
        warnings += ingest?.warnings ?? []
        warnings += notify.warnings
        if let web, !web.listen.isLoopback, !web.tls {
            warnings.append("listen.web = \"\(web.listen)\" is not a loopback address and web.tls is off: passwords and session cookies cross the network in clear text; set web.tls = true or keep it on 127.0.0.1 behind a TLS reverse proxy")
        }
        return warnings
    }

    /// The URL printed in the enroll command: the configured public URL, else the listen
    /// address with a wildcard replaced by this machine's name (never 127.0.0.1: the agent
    /// runs on another host).
    func enrollURL(hostName: String = ProcessInfo.processInfo.hostName) -> String {
        if let agentsPublicURL { return agentsPublicURL }
        let host = agentsListen.isWildcard ? (hostName.isEmpty ? "THIS-HOST" : hostName) : agentsListen.host
        return "https://\(ListenAddress(host: host, port: agentsListen.port))"
    }
}

/// Files under `data_dir`.
struct CoordinatorPaths: Sendable {
    var dataDir: String
    var database: String { dataDir + "/coordinator.sqlite3" }
    var pkiDir: String { dataDir + "/pki" }
    var caCertificate: String { pkiDir + "/ca.pem" }
    var caKey: String { pkiDir + "/ca.key" }
    var serverCertificate: String { pkiDir + "/server.pem" }
    var serverKey: String { pkiDir + "/server.key" }
    var operatorToken: String { dataDir + "/operator.token" }
    var outbox: String { dataDir + "/outbox" }
    var databaseFiles: [String] { [database, database + "-wal", database + "-shm"] }
}

/// `HOST:PORT` or `[IPv6]:PORT`.
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    /// A URL a local client can use to reach this listener.
    func url(scheme: String) -> String {
        let reachable = (host == "0.0.0.0") ? "127.0.0.1" : (host == "::" ? "::1" : host)
        return "\(scheme)://\(ListenAddress(host: reachable, port: port))"
    }
}
