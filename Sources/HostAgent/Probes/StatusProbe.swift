import Foundation
import Shared

/// QFieldCloud's `GET /api/v1/status/`: always HTTP 200, so the body decides.
struct StatusProbe: Probe {
    let name = "status"
    var url: String
    /// nginx drops (444) requests whose Host is not QFIELDCLOUD_HOST.
    var host: String?

    func collect() async -> ProbeResult {
        let status = check()
        var findings = Self.findings(status)
        // Browsers and QField send Host in lowercase: a probe that only sends it as configured
        // passes while every user gets 444 (QFieldCloud #1829).
        // Only when the configured Host works: an app that is down is app.status_error, not this.
        if status.error == nil, status.httpStatus == 200, let configured = host ?? URL(string: url)?.host, configured != configured.lowercased() {
            let lowered = check(host: configured.lowercased())
            if lowered.error != nil || lowered.httpStatus != 200 {
                findings.append(Self.hostCaseFinding(configured: configured, status: lowered))
            }
        }
        return ProbeResult(section: .app(status), findings: findings)
    }

    static func hostCaseFinding(configured: String, status: AppStatus) -> Finding {
        let why = status.error ?? "HTTP \(status.httpStatus.map(String.init) ?? "?")"
        return Finding(.proxyErrors, severity: .critical, subject: "nginx:host_case",
            message: "the status endpoint answers with Host \(configured) but not with \(configured.lowercased()), as browsers and QField send it (\(why)): "
                + "set QFIELDCLOUD_HOST in .env to \(configured.lowercased()) and `[status] host` in agent.toml to the same, then `docker compose up -d nginx app`.",
            evidence: ["url": status.url, "configured_host": configured, "sent_host": configured.lowercased(), "error": why])
    }

    func check() -> AppStatus { check(host: host) }

    func check(host: String?) -> AppStatus {
        // The certificate is the TLS probe's concern; here only the answer matters.
        let client = CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: false), maxResponseBytes: 1 << 20)
        var headers = [("Accept", "application/json")]
        if let host { headers.append(("Host", host)) }
        let response: HTTPResponse
        do {
            response = try client.perform(HTTPRequest(url: url, headers: headers, timeout: 15, connectTimeout: 5))
        } catch {
            var why = error.description
            if error.code == 52 { why += " — nginx closes the connection when Host is not QFIELDCLOUD_HOST: set [status] host" }
            return AppStatus(url: url, httpStatus: nil, components: [:], error: why)
        }
        guard response.status == 200 else {
            return AppStatus(url: url, httpStatus: response.status, components: [:], error: "HTTP \(response.status): \(response.bodyText.prefix(200))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            return AppStatus(url: url, httpStatus: 200, components: [:], error: "the body is not a JSON object: \(response.bodyText.prefix(200))")
        }
        var components: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String { components[key] = text }
        }
        return AppStatus(url: url, httpStatus: 200, components: components, error: nil)
    }

    static func findings(_ status: AppStatus) -> [Finding] {
        var evidence = status.components
        evidence["url"] = status.url
        if let code = status.httpStatus { evidence["http_status"] = String(code) }
        if let error = status.error {
            evidence["error"] = error
            return [Finding(.appStatusError, severity: .critical, subject: "app", message: "status endpoint: \(error)", evidence: evidence)]
        }
        let failing = status.components.filter { $0.value.lowercased() != "ok" }.keys.sorted()
        guard !failing.isEmpty else { return [] }
        return [Finding(.appStatusError, severity: .critical, subject: "app",
            message: "QFieldCloud reports " + failing.map { "\($0): \(status.components[$0]!)" }.joined(separator: ", "),
            evidence: evidence)]
    }
}
