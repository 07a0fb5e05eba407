import Foundation
import Shared

/// `[listen] web` and `[web]`: the dashboard and `/metrics` listener (off unless `listen.web` is set).
struct WebConfig: Sendable, Equatable {
    var listen: ListenAddress
    /// Serve HTTPS with the coordinator's own server certificate (pki/server.pem).
    var tls: Bool
    var sessionLifetime: TimeInterval
    /// Failed logins allowed per account and per client address within `loginWindow`.
    var loginAttempts: Int
    var loginWindow: TimeInterval
    /// A file (mode 0600) holding the bearer token Prometheus must send for /metrics; nil: open.
    var metricsTokenFile: String?

    static func load(from reader: ConfigReader) throws(ConfigError) -> WebConfig? {
        guard let text = try reader.string("listen.web") else {
            for key in ["web.tls", "web.session_lifetime", "web.login_attempts", "web.metrics_token_file"] where reader.contains(key) {
                throw reader.fail(key, "\(key) needs the dashboard listener: set [listen] web = \"127.0.0.1:8081\"")
            }
            return nil
        }
        guard let address = ListenAddress(text) else {
            throw reader.fail("listen.web", "listen.web must be HOST:PORT, e.g. web = \"127.0.0.1:8081\"")
        }
        var tokenFile: String?
        if let file = try reader.string("web.metrics_token_file") {
            guard file.hasPrefix("/") else {
                throw reader.fail("web.metrics_token_file", "web.metrics_token_file must be an absolute path, e.g. \"/etc/fieldmedic/metrics.token\"")
            }
            tokenFile = file
        }
        return WebConfig(
            listen: address,
            tls: try reader.bool("web.tls", default: false),
            sessionLifetime: try reader.duration("web.session_lifetime", default: 12 * 3600, minimum: 60, maximum: 30 * 86_400),
            loginAttempts: try reader.int("web.login_attempts", default: 5, range: 1...100),
            loginWindow: 15 * 60,
            metricsTokenFile: tokenFile)
    }
}
