import Foundation
import Shared

/// One simulated agent's identity on disk: `DIR/NAME.pem` (certificate) and `DIR/NAME.key`
/// (PKCS#8 key, 0600), the same files a real agent keeps, so libcurl loads them the same way.
struct BenchIdentity: Sendable {
    var name: String
    var certificateFile: String
    var keyFile: String

    init(name: String, directory: String) {
        self.name = name
        self.certificateFile = directory + "/" + name + ".pem"
        self.keyFile = directory + "/" + name + ".key"
    }

    /// `prefix-001`, `prefix-002`, … : sortable names, valid agent names.
    static func name(prefix: String, index: Int) -> String {
        prefix + "-" + String(format: "%03d", index)
    }

    /// The first `count` identities in `directory` (by name), checked to be complete.
    static func load(directory: String, count: Int) throws -> [BenchIdentity] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw BenchError("cannot list identities in \(directory): \(error.localizedDescription). Run `fieldmedic-bench enroll --identities \(directory)` first")
        }
        let names = entries.filter { $0.hasSuffix(".pem") }.map { String($0.dropLast(4)) }.sorted()
        guard names.count >= count else {
            throw BenchError("\(directory) holds \(names.count) enrolled agents but --agents asks for \(count): enroll more with `fieldmedic-bench enroll --agents \(count)`")
        }
        return try names.prefix(count).map { name in
            let identity = BenchIdentity(name: name, directory: directory)
            guard FileManager.default.fileExists(atPath: identity.keyFile) else {
                throw BenchError("\(identity.certificateFile) has no key beside it (\(identity.keyFile))")
            }
            return identity
        }
    }
}
