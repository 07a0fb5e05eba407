import Crypto
import Foundation
import Shared
import X509

/// One-time enrollment: pin the coordinator's CA by the hash in the join token, then trade
/// the token and a CSR for a client certificate. The private key never leaves this host.
struct Enrollment {
    let coordinatorURL: String
    let name: String
    let token: JoinToken
    let paths: AgentPaths

    enum Failure: Error, CustomStringConvertible {
        case caMismatch(presented: String, expected: String, url: String)
        case caUnreadable(String)
        case refused(String)
        case unreachable(String)

        var description: String {
            switch self {
            case .caMismatch(let presented, let expected, let url):
                return "the coordinator at \(url) presented a CA with sha256 \(presented), but the join token pins \(expected): wrong coordinator URL, a token from another coordinator, or someone in between. Nothing was sent."
            case .caUnreadable(let why): return "cannot read the coordinator's CA certificate: \(why)"
            case .refused(let why): return "enrollment refused: \(why)"
            case .unreachable(let why): return "cannot reach the coordinator: \(why)"
            }
        }
    }

    func run() throws -> CertificateGrant {
        // 1. Fetch the CA over TLS without trusting it yet, and check it against the token's hash.
        let probe = CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: false), maxResponseBytes: 64 << 10)
        let caResponse: HTTPResponse
        do {
            caResponse = try probe.perform(HTTPRequest(url: coordinatorURL + "/v1/ca", timeout: 20))
        } catch {
            throw Failure.unreachable("\(error)")
        }
        guard caResponse.status == 200 else { throw Failure.caUnreadable("GET /v1/ca answered \(caResponse.status)") }
        let ca: Certificate
        do {
            ca = try PEMFile.certificate(fromPEM: caResponse.bodyText, what: "the coordinator's CA")
        } catch {
            throw Failure.caUnreadable("\(error)")
        }
        let presented = try PEMFile.fingerprint(ca)
        guard ConstantTime.equals(presented, token.caFingerprint) else {
            throw Failure.caMismatch(presented: presented, expected: token.caFingerprint, url: coordinatorURL)
        }

        // 2. Only now trust it: every later call verifies the server against this CA and its name.
        try FileManager.default.createDirectory(atPath: paths.stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(Data(try PEMFile.pem(ca).utf8), to: paths.ca)
        let key = AgentKey()
        try SecretFile.write(key.pem, to: paths.key)

        let client = CurlHTTPClient(tls: CurlTLSOptions(caFile: paths.ca))
        let body = try WireCodec.encode(EnrollRequest(token: token.text, name: name, csrPEM: try key.certificateSigningRequest(name: name)))
        let response: HTTPResponse
        do {
            response = try client.perform(HTTPRequest(
                method: "POST", url: coordinatorURL + "/v1/enroll", headers: [("Content-Type", "application/json")], body: body, timeout: 30))
        } catch {
            if error.kind == .tlsPeerVerification {
                throw Failure.unreachable("\(error). The CA matched the token, so the coordinator's server certificate probably does not list the host name in \(coordinatorURL): re-run `fieldmedic-coordinator init` with --server-name, or use a listed name")
            }
            throw Failure.unreachable("\(error)")
        }
        guard response.status == 200 else {
            let problem = try? JSONDecoder().decode(APIErrorBody.self, from: response.body)
            throw Failure.refused(problem?.message ?? "HTTP \(response.status)")
        }
        let grant: CertificateGrant
        do {
            grant = try WireCodec.decode(CertificateGrant.self, from: response.body)
        } catch {
            throw Failure.refused("unreadable answer: \(error)")
        }
        let certificate = try PEMFile.certificate(fromPEM: grant.certificatePEM, what: "the issued certificate")
        guard certificate.agentName == name, certificate.publicKey == Certificate.PublicKey(key.key.publicKey) else {
            throw Failure.refused("the coordinator returned a certificate for another identity or key")
        }
        try AtomicFile.write(Data(grant.certificatePEM.utf8), to: paths.certificate)
        return grant
    }
}
