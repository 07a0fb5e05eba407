import ArgumentParser
import Foundation
import Shared

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check and export the tamper-evident audit log.", subcommands: [Verify.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain; exit 0 with the row count when intact, 1 naming the first bad row otherwise.")

        @OptionGroup var options: ConfigOption

        func run() async throws {
            let config = try options.load()
            let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
            print(try Self.verdict(try await store.verifyAudit(), database: config.paths.database))
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
