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

    func collect() async -> ProbeResult {
        let status = check()
        return ProbeResult(section: .tls(status), findings: findings(status), error: status.notAfter == nil ? status.verificationError : nil)
    }

    func check() -> TLSStatus {
        var request = HTTPRequest(url: url, timeout: 15, connectTimeout: 5)
        request.captureCertificates = true
        // Only the handshake matters: stop reading at the first bytes of the body.
        let stopAtBody: (Data) -> Bool = { _ in false }
        var verificationError: String?
        var chain: [[String: String]] = []
        do {
            chain = try CurlHTTPClient(tls: CurlTLSOptions(caFile: caFile)).perform(request, onChunk: stopAtBody).certificates
        } catch {
            verificationError = error.description
            if let unverified = try? CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: false)).perform(request, onChunk: stopAtBody) {
                chain = unverified.certificates
            }
        }
        let notAfter = chain.first?["Expire date"].flatMap(Self.parseCurlDate)
        return TLSStatus(
            url: url, notAfter: notAfter, daysLeft: notAfter.map { $0.timeIntervalSince(now()) / 86_400 }, verificationError: verificationError)
    }

    func findings(_ status: TLSStatus) -> [Finding] {
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
            findings.append(Finding(.tlsInvalid, severity: .critical, subject: status.url,
                message: "clients that verify certificates (QField does) refuse \(status.url): \(error)", evidence: evidence))
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
