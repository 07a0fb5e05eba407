import Foundation
import Testing
@testable import Shared

/// Every input in the committed fuzz corpus, and every crash a fuzzing run found, goes
/// through its parser on every test run: a parser that crashes on one takes the test run down.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: String) -> [String] {
        ParserEntryPoint.committedInputs(fuzzRoot: root, kind: kind, target: target)
    }

    @Test(arguments: ParserEntryPoint.all.map(\.name))
    func theCorpusAndEveryFoundCrashParseWithoutCrashing(target: String) throws {
        let entry = try #require(ParserEntryPoint.named(target))
        #expect(try entry.replayCommitted(fuzzRoot: Self.root).corpus > 0, "Fuzz/corpus/\(target) has no seed inputs")
    }

    @Test func everyCorpusDirectoryNamesAnEntryPoint() throws {
        let names = Set(ParserEntryPoint.targetNames)
        #expect(Set(ParserEntryPoint.all.map(\.name)).isSubset(of: names))
        for kind in ["corpus", "crashes"] {
            let directories = (try? FileManager.default.contentsOfDirectory(atPath: "\(Self.root)/\(kind)")) ?? []
            for directory in directories where !directory.hasPrefix(".") {
                #expect(names.contains(directory), "Fuzz/\(kind)/\(directory) is for no parser")
            }
        }
        // And every target has its seed corpus.
        for name in names {
            #expect(!Self.inputs("corpus", name).isEmpty, "Fuzz/corpus/\(name) has no seed inputs")
        }
    }

    /// The driver and scripts/fuzz.sh name the same targets.
    @Test func theFuzzScriptNamesEveryTarget() throws {
        let script = try String(contentsOfFile: Self.root + "/../scripts/fuzz.sh", encoding: .utf8)
        let line = try #require(script.split(separator: "\n").first { $0.hasPrefix("targets=(") })
        #expect(line.dropFirst("targets=(".count).dropLast().split(separator: " ").map(String.init) == ParserEntryPoint.targetNames)
    }
}
