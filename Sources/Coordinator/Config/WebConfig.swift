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
    /// A reverse proxy that signs people in (oauth2-proxy): the header naming the person, and
    /// the addresses of the proxies whose header is believed. Off unless both are set.
    var proxyUserHeader: String? = nil
    var trustedProxies: [String] = []
    /// How often live parts of a page ask for fresh data; after three failed asks in a row
    /// the page says its data is stale.
    var liveRefresh: TimeInterval = 10

    static func load(from reader: ConfigReader) throws(ConfigError) -> WebConfig? {
        guard let text = try reader.string("listen.web") else {
            for key in ["web.tls", "web.session_lifetime", "web.login_attempts", "web.metrics_token_file", "web.proxy_user_header", "web.trusted_proxies", "web.live_refresh"]
            where reader.contains(key) {
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
        let header = try reader.string("web.proxy_user_header")
        let proxies = try reader.stringArray("web.trusted_proxies", default: [])
        if let header {
            guard !header.isEmpty, header.count <= 64, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw reader.fail("web.proxy_user_header", "web.proxy_user_header must be a header name such as \"X-Forwarded-User\" (letters, digits, -)")
            }
            guard !proxies.isEmpty else {
                throw reader.fail("web.proxy_user_header", "web.proxy_user_header needs web.trusted_proxies: the addresses of the proxies whose header is believed, e.g. [\"127.0.0.1\"]")
            }
        } else if !proxies.isEmpty {
            throw reader.fail("web.trusted_proxies", "web.trusted_proxies needs web.proxy_user_header, e.g. \"X-Forwarded-User\"")
        }
        for proxy in proxies where !Self.isIPAddress(proxy) {
            throw reader.fail("web.trusted_proxies", "web.trusted_proxies: \"\(proxy.prefix(64))\" is not an IP address (names are not resolved; list the proxy's address)")
        }
        return WebConfig(
            listen: address,
            tls: try reader.bool("web.tls", default: false),
            sessionLifetime: try reader.duration("web.session_lifetime", default: 12 * 3600, minimum: 60, maximum: 30 * 86_400),
            loginAttempts: try reader.int("web.login_attempts", default: 5, range: 1...100),
            loginWindow: 15 * 60,
            metricsTokenFile: tokenFile,
            proxyUserHeader: header,
            trustedProxies: proxies,
            liveRefresh: try reader.duration("web.live_refresh", default: 10, minimum: 1, maximum: 300))
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
