import ArgumentParser
import Foundation
import Shared

struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "A maintenance window: findings of host NAME (or one finding code) open no ticket and trigger no fix until it expires.",
        discussion: "Silenced findings are still reported and stored. Example: silence vps-1 --finding disk.high --for 2h --reason \"resizing the volume\"")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The host.") var name: String
    @Option(name: .long, help: "Only this finding code (default: every finding of the host).") var finding: String?
    @Option(name: .customLong("for"), help: "How long, e.g. 30m, 2h, 1d.") var duration: String
    @Option(name: .long, help: "Why (goes into the audit log).") var reason: String?

    func run() async throws {
        guard let seconds = DurationText.parse(duration), seconds > 0 else { throw UsageError("--for must be a duration such as 30m, 2h or 1d") }
        let client = try OperatorClient(config: try options.load())
        let silence = try client.post("/operator/silences", SilenceRequest(host: name, finding: finding, seconds: seconds, reason: reason), as: SilenceRecord.self)
        print("silence \(silence.id): \(silence.finding ?? "every finding") on \(silence.agent) until \(WireDate.format(silence.until)); end it early with: fieldmedic-coordinator unsilence \(silence.id)")
    }
}

struct SilencesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "silences", abstract: "List silences.", subcommands: [List.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Active silences (with --all, expired and ended ones too).")
        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Include expired and ended silences.") var all = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let answer = try client.get("/operator/silences" + (all ? "?all=1" : ""), as: SilencesResponse.self)
            if json { print(String(decoding: try WireCodec.encoder().encode(answer.silences), as: UTF8.self)); return }
            if answer.silences.isEmpty { print(all ? "No silences yet." : "No active silences."); return }
            let now = Date()
            print(TextTable.render(
                ["ID", "HOST", "FINDING", "UNTIL", "BY", "REASON"],
                answer.silences.map { s in
                    let until = s.endedAt.map { "ended " + RelativeTime.describe($0, now: now) } ?? RelativeTime.describe(s.until, now: now)
                    return [String(s.id), s.agent, s.finding ?? "*", until, s.createdBy, s.reason]
                }))
        }
    }
}

struct UnsilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unsilence", abstract: "End silence ID now.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The silence id (from `silences`).") var id: Int64

    func run() async throws {
        let client = try OperatorClient(config: try options.load())
        _ = try client.post("/operator/silences/\(id)/end", [String: String](), as: SilencesResponse.self)
        print("silence \(id) ended")
    }
}
