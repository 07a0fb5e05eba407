import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// The committed fuzz corpus and every crash found, through the coordinator's own parsers
/// (`ParserEntryPoint.coordinator`), on every test run; SharedTests replays Shared's.
@Suite struct FuzzCorpusReplayTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    @Test(arguments: ParserEntryPoint.coordinator.map(\.name))
    func theCorpusAndEveryFoundCrashParseWithoutCrashing(target: String) throws {
        #expect(ParserEntryPoint.targetNames.contains(target), "scripts/fuzz.sh and ParserEntryPoint.targetNames must list \(target)")
        let entry = try #require(ParserEntryPoint.coordinator.first { $0.name == target })
        #expect(try entry.replayCommitted(fuzzRoot: Self.fuzzRoot).corpus > 0, "Fuzz/corpus/\(target) has no seed inputs")
    }
}
