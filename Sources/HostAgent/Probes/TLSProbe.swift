import Foundation
import Shared

/// The public certificate QField clients see: days until it expires, and whether a client
/// that verifies (with the system's CAs) accepts it and its chain.
struct TLSProbe: Probe {
    let name = "tls"
    var url: String
    var warnDays: Double
    /// Extra CA for tests and private installs; nil = the system store.
    var caFile: String?
    var now: @Sendable () -> Date = { Date() }

    /// The certificate file nginx is configured with; nil = the served certificate is not
    /// compared with the one on disk (tls.mismatch).
    var onDisk: CertificateOnDisk?
    var service = "nginx"

    func collect() async -> ProbeResult {
        let served = ServedChain.fetch(url: url, caFile: caFile)
        let status = status(served)
        var findings = findings(status, chain: served.certificates)
        var error = status.notAfter == nil ? status.verificationError : nil
        let comparison = compare(served.certificates)
        findings += comparison.findings
        error = error ?? comparison.error
        return ProbeResult(section: .tls(status), findings: findings, error: error, fix: comparison.error == nil ? nil : comparison.fix)
    }

    /// tls.mismatch against the file on disk. An install that does not say which file nginx
    /// serves (no QFIELDCLOUD_TLS_CERT, as before QFieldCloud's 2024 certificate settings, and
    /// no `[tls] certificate_file`) is not compared, and that is no failure to look: the
    /// report would otherwise keep every such host "not checked" for ever. A file that is
    /// named but cannot be read is one.
    func compare(_ served: [CertificateFacts]) -> (findings: [Finding], error: String?, fix: String?) {
        guard let onDisk, !served.isEmpty else { return ([], nil, nil) }
        do {
            let disk = try onDisk.read()
            return (TLSMismatchRule(url: url, service: service, now: now()).findings(served: served, disk: disk), nil, nil)
        } catch {
            if case .notFound = error { return ([], nil, nil) }
            return ([], "cannot compare the served certificate with the one on disk: \(error.description)",
                    "check that file, or set `[tls] certificate_file` in agent.toml to the certificate file nginx serves")
        }
    }

    func check() -> TLSStatus {
        status(ServedChain.fetch(url: url, caFile: caFile))
    }

    func status(_ served: ServedChain) -> TLSStatus {
        let notAfter = served.certificates.first?.notAfter ?? served.leafExpiry
        return TLSStatus(
            url: url, notAfter: notAfter, daysLeft: notAfter.map { $0.timeIntervalSince(now()) / 86_400 }, verificationError: served.verificationError)
    }

    func findings(_ status: TLSStatus, chain: [CertificateFacts] = []) -> [Finding] {
        var findings: [Finding] = []
        var evidence = ["url": status.url]
        if let notAfter = status.notAfter { evidence["not_after"] = WireDate.format(notAfter) }
        if let days = status.daysLeft {
            evidence["days_left"] = String(format: "%.1f", days)
            if days < warnDays {
                findings.append(Finding(.tlsExpiring, severity: days < 3 ? .critical : .warning, subject: status.url,
                    message: days <= 0 ? "the certificate of \(status.url) has expired" : String(format: "the certificate of %@ expires in %.1f days", status.url, days),
                    evidence: evidence))
            }
        }
        if let error = status.verificationError {
            evidence["error"] = error
            var message = "clients that verify certificates (QField does) refuse \(status.url): \(error)"
            // The chain stops at an intermediate whose issuer it does not carry (QFieldCloud #956).
            if error.contains("local issuer"), let issuer = ServedChain.unservedIssuer(chain) {
                evidence["served_chain"] = String(chain.count)
                evidence["unserved_issuer"] = issuer
                message += ". The served chain (\(chain.count) certificate\(chain.count == 1 ? "" : "s")) ends at one issued by \(issuer), which it does not carry: if that is an intermediate CA (not a root clients trust), serve the full chain (Let's Encrypt: QFIELDCLOUD_TLS_CERT=/etc/letsencrypt/live/<host>/fullchain.pem, not cert.pem; a bought certificate: append the CA's intermediate to the file), then reload nginx"
            }
            findings.append(Finding(.tlsInvalid, severity: .critical, subject: status.url, message: message, evidence: evidence))
        }
        return findings
    }

    /// curl prints "Nov 22 13:51:20 2027 GMT" (day space-padded).
    static func parseCurlDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        let normalized = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        return formatter.date(from: normalized)
    }
}
