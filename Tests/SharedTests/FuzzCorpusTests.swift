import Foundation
import Testing
@testable import Shared

/// Every input in the committed fuzz corpus, and every crash a fuzzing run found, goes
/// through its parser on every test run: a parser that crashes on one takes the test run down.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: String) -> [String] {
        let directory = "\(root)/\(kind)/\(target)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    @Test(arguments: ParserEntryPoint.all.map(\.name))
    func theCorpusAndEveryFoundCrashParseWithoutCrashing(target: String) throws {
        let entry = try #require(ParserEntryPoint.named(target))
        let corpus = Self.inputs("corpus", target)
        #expect(!corpus.isEmpty, "Fuzz/corpus/\(target) has no seed inputs")
        for path in corpus + Self.inputs("crashes", target) {
            entry.run(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    @Test func everyCorpusDirectoryNamesAnEntryPoint() throws {
        let names = Set(ParserEntryPoint.all.map(\.name))
        for kind in ["corpus", "crashes"] {
            let directories = (try? FileManager.default.contentsOfDirectory(atPath: "\(Self.root)/\(kind)")) ?? []
            for directory in directories where !directory.hasPrefix(".") {
                #expect(names.contains(directory), "Fuzz/\(kind)/\(directory) is for no parser")
            }
        }
    }
}
