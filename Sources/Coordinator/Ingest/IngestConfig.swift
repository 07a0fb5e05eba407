import Foundation
import Shared

/// `[listen] ingest` and `[ingest]`: alerts from Alertmanager and GlitchTip become tickets.
/// Absent `listen.ingest`: no ingest listener at all.
struct IngestConfig: Sendable, Equatable {
    var listen: ListenAddress
    /// Serve the listener with the coordinator's own certificate (its CA verifies clients).
    var tls: Bool
    var alertmanagerTokenFile: String?
    var glitchtipTokenFile: String?
    /// Alert labels that name the host, tried in order (the first present wins; port stripped).
    var hostLabels: [String]
    /// `alertname` → finding code (`[ingest.alertmanager.findings]`); others get `alert.<alertname>`.
    var findings: [String: FindingCode]
    /// GlitchTip project (or uptime monitor name) → host (`[ingest.glitchtip.projects]`), when
    /// an event carries no Server Name.
    var glitchtipProjects: [String: String]

    static let defaultHostLabels = ["instance", "host", "nodename"]

    static func load(from reader: ConfigReader) throws(ConfigError) -> IngestConfig? {
        guard let text = try reader.string("listen.ingest") else {
            if reader.contains("ingest") {
                throw reader.fail("ingest", "[ingest] needs a listener: add ingest = \"127.0.0.1:8092\" under [listen] (or remove [ingest])")
            }
            return nil
        }
        guard let address = ListenAddress(text) else {
            throw reader.fail("listen.ingest", "listen.ingest must be HOST:PORT, e.g. ingest = \"127.0.0.1:8092\"")
        }
        var files: [String: String] = [:]
        for key in ["alertmanager_token_file", "glitchtip_token_file"] {
            guard let value = try reader.string("ingest.\(key)") else { continue }
            guard value.hasPrefix("/") else { throw reader.fail("ingest.\(key)", "ingest.\(key) must be an absolute path (a file of mode 0600)") }
            files[key] = value
        }
        let tls = try reader.bool("ingest.tls", default: false)
        guard !files.isEmpty || tls else {
            throw reader.fail("listen.ingest", "listen.ingest needs a way to authenticate senders: set ingest.alertmanager_token_file, ingest.glitchtip_token_file or ingest.tls = true")
        }
        let labels = try reader.stringArray("ingest.host_labels", default: defaultHostLabels)
        guard !labels.isEmpty, labels.count <= 20, labels.allSatisfy({ Self.isLabelName($0) }) else {
            throw reader.fail("ingest.host_labels", "ingest.host_labels must list 1 to 20 label names, e.g. host_labels = [\"instance\", \"host\", \"nodename\"]")
        }
        var findings: [String: FindingCode] = [:]
        for name in reader.valueNames("ingest.alertmanager.findings") {
            let path = ["ingest", "alertmanager", "findings", name]
            let key = ConfigReader.display(path)
            guard let code = try reader.string(path: path) else { continue }
            guard let finding = FindingCode(rawValue: code) else {
                throw reader.fail(key, "\(key) must be a finding code, one of: \(FindingCode.allCases.map(\.rawValue).sorted().joined(separator: ", ")) (got \"\(code)\"); unmapped alerts become alert.<alertname>")
            }
            findings[name] = finding
        }
        var projects: [String: String] = [:]
        for project in reader.valueNames("ingest.glitchtip.projects") {
            let path = ["ingest", "glitchtip", "projects", project]
            guard let host = try reader.string(path: path) else { continue }
            guard !host.isEmpty else { throw reader.fail(ConfigReader.display(path), "\(ConfigReader.display(path)) must name an enrolled host") }
            projects[project] = host
        }
        return IngestConfig(listen: address, tls: tls, alertmanagerTokenFile: files["alertmanager_token_file"],
                            glitchtipTokenFile: files["glitchtip_token_file"], hostLabels: labels, findings: findings, glitchtipProjects: projects)
    }

    /// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func isLabelName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    var warnings: [String] {
        guard !listen.isLoopback && !tls else { return [] }
        return ["listen.ingest = \"\(listen)\" is not a loopback address and ingest.tls is off: alerts and their bearer token cross the network as plain HTTP; set ingest.tls = true or put it behind a TLS reverse proxy"]
    }
}
