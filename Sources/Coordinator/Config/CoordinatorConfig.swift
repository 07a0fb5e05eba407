import Foundation
import Shared

/// `coordinator.toml`: where state lives, where to listen, and the fleet's lifetimes.
struct CoordinatorConfig: Sendable {
    var path: String
    var dataDir: String
    var agentsListen: ListenAddress
    var operatorListen: ListenAddress
    var certificateLifetime: TimeInterval
    var tokenLifetime: TimeInterval
    var offlineAfter: TimeInterval
    var maxBodyBytes: Int
    var maxLongPoll: TimeInterval
    var tickets: TicketConfig

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
        let config = CoordinatorConfig(
            path: path,
            dataDir: dataDir,
            agentsListen: try address("listen.agents", "0.0.0.0:8443"),
            operatorListen: try address("listen.operator", "127.0.0.1:8080"),
            certificateLifetime: try reader.duration("agents.cert_lifetime", default: 30 * 86_400, minimum: 3),
            tokenLifetime: try reader.duration("agents.token_lifetime", default: 3600, minimum: 1),
            offlineAfter: try reader.duration("agents.offline_after", default: 180, minimum: 1),
            maxBodyBytes: try reader.int("limits.max_body_bytes", default: 1 << 20, range: 1024...(64 << 20)),
            maxLongPoll: try reader.duration("limits.max_long_poll", default: 60, minimum: 1),
            tickets: try TicketConfig.load(from: reader))
        try reader.finish()
        return config
    }

    var paths: CoordinatorPaths { CoordinatorPaths(dataDir: dataDir) }
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

    /// A URL a local client can use to reach this listener.
    func url(scheme: String) -> String {
        let reachable = (host == "0.0.0.0") ? "127.0.0.1" : (host == "::" ? "::1" : host)
        return "\(scheme)://\(ListenAddress(host: reachable, port: port))"
    }
}
