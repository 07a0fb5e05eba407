import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// An agent whose key others can read refuses to start (and check-config says so), instead
/// of running until renewal refuses the key and the certificate runs out (D10).
@Suite struct AgentKeyFileTests {
    @Test func aKeyOthersCanReadIsRefusedBeforeTheAgentRuns() throws {
        let directory = NSTemporaryDirectory() + "fm-agent-key-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = AgentPaths(stateDir: directory)
        try SecretFile.write(AgentKey().pem, to: paths.key)
        try paths.checkKey()
        chmod(paths.key, 0o644)
        #expect(throws: SecretFile.Failure.tooOpen(path: paths.key, mode: "644")) { try paths.checkKey() }
        #expect(SecretFile.Failure.tooOpen(path: paths.key, mode: "644").description.contains("chmod 600"))
    }
}
