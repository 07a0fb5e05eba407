import Foundation
import Shared

/// The certificate nginx serves against the newest one on disk: a renewed certificate that
/// nginx never loaded (it reads its files only when it starts or reloads, QFieldCloud #986),
/// or a served chain shorter than the file's (the intermediate missing, #956).
struct TLSMismatchRule: Sendable {
    var url: String
    var service: String = "nginx"
    var now: Date = Date()

    enum Verdict: Equatable {
        /// nginx serves what is on disk.
        case same
        /// Another certificate than the file's; `newerOnDisk`: a reload brings the newer one.
        case otherCertificate(newerOnDisk: Bool)
        /// The same leaf, but fewer of the file's certificates.
        case shorterChain
    }

    static func verdict(served: [CertificateFacts], disk: [CertificateFacts]) -> Verdict {
        guard let servedLeaf = served.first, let diskLeaf = disk.first else { return .same }
        if servedLeaf.sha256 != diskLeaf.sha256 {
            return .otherCertificate(newerOnDisk: diskLeaf.notAfter > servedLeaf.notAfter)
        }
        // The file carries an issuer the handshake lacks.
        let servedSubjects = Set(served.map(\.subject))
        if disk.dropFirst().contains(where: { !servedSubjects.contains($0.subject) }) { return .shorterChain }
        return .same
    }

    func findings(served: [CertificateFacts], disk: CertificateOnDisk.Located) -> [Finding] {
        guard let servedLeaf = served.first, let diskLeaf = disk.chain.first else { return [] }
        var evidence: [String: String] = [
            "url": url, "disk_path": disk.path,
            "served_sha256": servedLeaf.sha256, "served_serial": servedLeaf.serial, "served_not_after": WireDate.format(servedLeaf.notAfter),
            "served_chain": String(served.count),
            "disk_sha256": diskLeaf.sha256, "disk_serial": diskLeaf.serial, "disk_not_after": WireDate.format(diskLeaf.notAfter),
            "disk_chain": String(disk.chain.count),
        ]
        let reload = "Reload nginx so that it reads the file again: `docker compose exec \(service) nginx -t && docker compose exec \(service) nginx -s reload` in the install directory (FieldMedic's reload_nginx does this and checks what is served afterwards; the container is not restarted)."
        switch Self.verdict(served: served, disk: disk.chain) {
        case .same:
            return []
        case .otherCertificate(let newerOnDisk):
            let expired = servedLeaf.notAfter <= now
            let what = "\(service) serves a certificate (\(servedLeaf.summary)) that is not the one in \(disk.path) (\(diskLeaf.summary))"
            let message = newerOnDisk
                ? "\(what): the renewed certificate has not been loaded\(expired ? " and the one served has expired" : ""). \(reload)"
                : "\(what), and the file on disk is not newer: check that QFIELDCLOUD_TLS_CERT in .env (or `[tls] certificate_file` in agent.toml) names the file that is renewed (Let's Encrypt: /etc/letsencrypt/live/<host>/fullchain.pem), then reload nginx. Reloading now would serve the older file."
            evidence["newer_on_disk"] = newerOnDisk ? "true" : "false"
            return [Finding(.tlsMismatch, severity: expired ? .critical : .warning, subject: "\(service):certificate", message: message, evidence: evidence)]
        case .shorterChain:
            let missing = disk.chain.dropFirst().filter { candidate in !served.contains { $0.subject == candidate.subject } }
            evidence["missing_issuer"] = missing.first?.subject
            return [Finding(.tlsMismatch, severity: .critical, subject: "\(service):chain",
                message: "\(service) serves \(served.count) of the \(disk.chain.count) certificates in \(disk.path): clients that do not already hold \(missing.first?.subject ?? "the intermediate") cannot verify the chain (Android: \"Could not find the certificate issuer\"). \(reload)",
                evidence: evidence)]
        }
    }
}
