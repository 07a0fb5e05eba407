import ArgumentParser
import Foundation
import Shared
import X509

/// Enrolls simulated agents the way a real agent does: join token from the operator API,
/// a fresh P-256 key, a CSR, `POST /v1/enroll`, and the granted certificate on disk.
struct EnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll", abstract: "Enroll N simulated agents, each with its own key and certificate.")

    @Option(help: "The coordinator's agent listener, e.g. https://127.0.0.1:8443.")
    var url: String

    @Option(help: "PEM file of the coordinator's CA (DATA_DIR/pki/ca.pem).")
    var ca: String

    @Option(help: "The coordinator's operator API, e.g. http://127.0.0.1:8080.")
    var operatorURL: String

    @Option(help: "File holding the operator token (DATA_DIR/operator.token).")
    var operatorTokenFile: String

    @Option(help: "How many agents to enroll.")
    var agents: Int = 64

    @Option(help: "Agent names are PREFIX-001, PREFIX-002, …")
    var namePrefix: String = "bench"

    @Option(help: "Directory for the agents' certificates and keys (created, mode 0700).")
    var identities: String

    func validate() throws {
        guard agents >= 1 else { throw ValidationError("--agents must be at least 1") }
        guard url.hasPrefix("https://") else { throw ValidationError("--url must start with https://") }
        do { try AgentName.validate(BenchIdentity.name(prefix: namePrefix, index: 1)) } catch {
            throw ValidationError("--name-prefix gives invalid agent names: \(error)")
        }
    }

    func run() throws {
        let operatorAPI = try OperatorAPIClient(baseURL: operatorURL, tokenFile: operatorTokenFile)
        try FileManager.default.createDirectory(atPath: identities, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Server-TLS only (no client certificate yet), verified against the CA: one connection for all.
        let channel = CurlHTTPClient(tls: CurlTLSOptions(caFile: ca))
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let started = Date()
        for index in 1...agents {
            let name = BenchIdentity.name(prefix: namePrefix, index: index)
            let identity = BenchIdentity(name: name, directory: identities)
            let token = try operatorAPI.createJoinToken(agent: name)
            let key = AgentKey()
            let body = try WireCodec.encode(EnrollRequest(token: token, name: name, csrPEM: try key.certificateSigningRequest(name: name)))
            let response: HTTPResponse
            do {
                response = try channel.perform(HTTPRequest(
                    method: "POST", url: base + "/v1/enroll", headers: [("Content-Type", "application/json")], body: body, timeout: 30))
            } catch {
                throw BenchError("enrolling \(name): \(error)")
            }
            guard response.status == 200 else {
                throw BenchError("enrolling \(name): the coordinator answered \(response.status): \(response.bodyText.prefix(300))")
            }
            let grant = try WireCodec.decode(CertificateGrant.self, from: response.body)
            let certificate = try PEMFile.certificate(fromPEM: grant.certificatePEM, what: "certificate granted to \(name)")
            guard certificate.agentName == name else {
                throw BenchError("enrolling \(name): the granted certificate names \(certificate.agentName ?? "no agent")")
            }
            try SecretFile.write(key.pem, to: identity.keyFile)
            try AtomicFile.write(Data(grant.certificatePEM.utf8), to: identity.certificateFile)
        }
        let seconds = Date().timeIntervalSince(started)
        let last = BenchIdentity.name(prefix: namePrefix, index: agents)
        print("enrolled \(agents) agents (\(BenchIdentity.name(prefix: namePrefix, index: 1)) … \(last)) in \(String(format: "%.1f", seconds)) s; certificates and keys in \(identities)")
    }
}
