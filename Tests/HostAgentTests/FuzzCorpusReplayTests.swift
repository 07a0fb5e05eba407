import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// The committed fuzz corpus and every crash found, through the agent's own parsers
/// (`ParserEntryPoint.agent`), on every test run; SharedTests replays Shared's.
@Suite struct FuzzCorpusReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: String) -> [String] {
        let directory = "\(root)/\(kind)/\(target)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    @Test(arguments: ParserEntryPoint.agent.map(\.name))
    func theCorpusAndEveryFoundCrashParseWithoutCrashing(target: String) throws {
        #expect(ParserEntryPoint.targetNames.contains(target), "scripts/fuzz.sh and ParserEntryPoint.targetNames must list \(target)")
        let entry = try #require(ParserEntryPoint.agent.first { $0.name == target })
        let corpus = Self.inputs("corpus", target)
        #expect(!corpus.isEmpty, "Fuzz/corpus/\(target) has no seed inputs")
        for path in corpus + Self.inputs("crashes", target) {
            entry.run(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }
}
