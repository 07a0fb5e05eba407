import Crypto
import Foundation
import Testing
@testable import Shared

/// Everything a secret can be printed through: description, debug description, dump.
func everyPrinting(of value: Any) -> [String] {
    var dumped = ""
    dump(value, to: &dumped)
    return [String(describing: value), String(reflecting: value), "\(value)", dumped]
}

/// The base64 lines of a PKCS#8 P-256 PEM that hold the private scalar (the last line holds
/// the public key, which certificates show anyway).
func privateLines(_ pem: String) -> [String] {
    let lines = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
    return Array(lines.dropLast())
}

/// The parts of a PEM private key that would give it away: its private lines and the raw key.
func giveaways(ofKeyPEM pem: String) throws -> [String] {
    let key = try P256.Signing.PrivateKey(pemRepresentation: pem)
    let raw = Array(key.rawRepresentation)
    let lines = privateLines(pem)
    return lines + [Hex.encode(raw), Data(raw).base64EncodedString(), "\(raw)"]
}

@Suite struct SecretTests {
    @Test func aSecretPrintsAsRedactedEverywhere() {
        let secret = Secret("hunter2-very-secret")
        for text in everyPrinting(of: secret) + everyPrinting(of: [secret]) + everyPrinting(of: Optional(secret) as Any) {
            #expect(!text.contains("hunter2"))
        }
        #expect(secret.revealed == "hunter2-very-secret")
        #expect(secret.matches("hunter2-very-secret"))
        #expect(!secret.matches("hunter2"))
    }

    @Test func theCertificateAuthorityNeverPrintsItsKey() throws {
        let ca = try CertificateAuthority.create()
        let secrets = try giveaways(ofKeyPEM: ca.keyPEM.revealed)
        struct Holder { let authority: CertificateAuthority; let other = 1 }
        for text in everyPrinting(of: ca) + everyPrinting(of: Holder(authority: ca)) {
            for secret in secrets { #expect(!text.contains(secret)) }
            #expect(!text.contains("PRIVATE KEY"))
        }
    }

    @Test func aJoinTokenNeverPrintsItsSecret() {
        let token = JoinToken.generate(caFingerprint: String(repeating: "ab", count: 32))
        let request = EnrollRequest(token: token.text, name: "vps-1", csrPEM: "csr")
        for text in everyPrinting(of: token) + everyPrinting(of: request) + everyPrinting(of: (token, 1)) {
            #expect(!text.contains(token.secret.revealed))
        }
        #expect(String(describing: token).contains(token.id))
    }

    @Test func anAgentKeyNeverPrintsItself() throws {
        let key = AgentKey()
        let secrets = try giveaways(ofKeyPEM: key.pem)
        for text in everyPrinting(of: key) {
            for secret in secrets { #expect(!text.contains(secret)) }
        }
    }
}
