import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-coordinator ingest status | retry ROW… | retry --all-failed`.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Stored alerts ([listen] ingest): counts by state, the failed ones, and retrying them.",
        subcommands: [Status.self, Retry.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Stored alerts by state, and every failed one with its row and last error (of the newest --limit).")
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "How many of the newest stored alerts to look through for failed ones.") var limit: Int = 1000
        @Flag(name: .long, help: "Print JSON.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
        }

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let summary = try client.get("/operator/ingest?limit=\(limit)", as: IngestOperatorAPI.Summary.self)
            if json {
                print(String(decoding: try WireCodec.encoder().encode(summary), as: UTF8.self))
                return
            }
            print(IngestState.allCases.map { "\($0.rawValue) \(summary.counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")
                + "; tickets \(summary.counts["tickets"] ?? 0)")
            for row in summary.recent where row.state == IngestState.failed.rawValue {
                print("failed row \(row.id) \(row.source) \(row.name) (\(row.status)) received \(WireDate.format(row.receivedAt)): \(Redactor.redact(row.outcome ?? "?"))")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Process failed stored alerts again (they failed 3 times and were set aside); audited.",
            discussion: "Rows are in `ingest status`. Example: fieldmedic-coordinator ingest retry 412 413, or: ingest retry --all-failed")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Row numbers of failed stored alerts.") var rows: [Int64] = []
        @Flag(name: .long, help: "Every failed stored alert.") var allFailed = false

        func validate() throws {
            guard allFailed != !rows.isEmpty else { throw ValidationError("name the failed rows to retry, or --all-failed (not both)") }
        }

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let answer = try client.post("/operator/ingest/retry", IngestRetryRequest(rows: allFailed ? nil : rows, allFailed: allFailed ? true : nil),
                                         as: IngestRetryResponse.self)
            print("retrying \(answer.rows.count) stored alert(s): row " + answer.rows.map(String.init).joined(separator: ", ")
                + "; see `fieldmedic-coordinator ingest status` for what became of them")
        }
    }
}
