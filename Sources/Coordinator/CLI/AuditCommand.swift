import ArgumentParser
import Foundation
import Shared

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check and export the tamper-evident audit log.", subcommands: [Verify.self, Head.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain (and anchors written down earlier); exit 0 with the row count when intact, 1 naming the first bad row otherwise.")

        @OptionGroup var options: ConfigOption
        @Option(name: .customLong("anchor"), help: "A head printed earlier by `audit head` (ROW:HASH); repeatable. A rewritten chain no longer matches it.")
        var anchors: [String] = []
        @Option(name: .customLong("anchors-file"), help: "A file of such anchors, one a line ('#' starts a comment).")
        var anchorsFile: String?

        func run() async throws {
            let config = try options.load()
            var written = anchors
            if let anchorsFile {
                let text: String
                do { text = try String(contentsOfFile: anchorsFile, encoding: .utf8) } catch { throw UsageError("cannot read --anchors-file \(anchorsFile): \(error.localizedDescription)") }
                written += text.split(separator: "\n").map { $0.split(separator: "#", omittingEmptySubsequences: false).first.map(String.init) ?? "" }
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            let parsed = try written.map { text in
                guard let anchor = AuditAnchor(text) else { throw UsageError("anchor \"\(text)\" is not ROW:HASH (as `audit head` prints it)") }
                return anchor
            }
            let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
            let text = try Self.verdict(try await store.verifyAudit(), database: config.paths.database)
            let problems = try AuditAnchor.mismatches(parsed) { try store.auditHash(row: $0) }
            guard problems.isEmpty else { throw OperationalError("audit log rewritten: " + problems.joined(separator: "; ")) }
            print(parsed.isEmpty ? text : text + ", \(parsed.count) anchor(s) hold")
        }

        /// An empty chain is not intact: every data directory starts with its initialisation row.
        static func verdict(_ verdict: ChainVerdict, database: String) throws -> String {
            switch verdict {
            case .intact(let head) where head.count == 0:
                throw OperationalError("audit log empty: \(database) has not even its initialisation row; it was replaced or emptied")
            case .intact(let head):
                return "audit log intact: \(head.count) rows, head \(head.hash)"
            case .broken(let failure):
                throw OperationalError("audit log broken at \(failure)")
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the newest row as ROW:HASH: keep these lines where this machine cannot change them, and give them to `audit verify --anchor`.")

        @OptionGroup var options: ConfigOption

        func run() async throws {
            let config = try options.load()
            let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
            guard let head = try store.auditHead() else { throw OperationalError("the audit log in \(config.paths.database) is empty") }
            print(head)
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write audit rows as JSON lines to stdout.")

        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "Only rows at or after this time (RFC 3339, e.g. 2026-11-22T00:00:00Z).") var since: String?

        func run() async throws {
            var sinceDate: Date?
            if let since {
                guard let parsed = WireDate.parse(since) else { throw UsageError("--since must be an RFC 3339 time such as 2026-11-22T00:00:00Z") }
                sinceDate = parsed
            }
            let config = try options.load()
            let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var out = FileHandle.standardOutput
            for row in try await store.auditRows(since: sinceDate) {
                var line = try encoder.encode(row)
                line.append(0x0a)
                out.write(line)
            }
            _ = out
        }
    }
}
