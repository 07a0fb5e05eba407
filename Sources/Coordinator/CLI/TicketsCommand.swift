import ArgumentParser
import Foundation
import Shared

struct TicketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickets", abstract: "List, show and open tickets; approve, deny or retry them.",
        discussion: "Tickets come from GitHub issues, from the coordinator's own findings, or from `tickets open`.",
        subcommands: [List.self, Show.self, Open.self, Act.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open tickets (with --all, every ticket).")
        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Include finished tickets.") var all = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let tickets = try client.get("/operator/tickets" + (all ? "?all=1" : ""), as: [TicketSummary].self)
            if json { print(String(decoding: try WireCodec.encoder().encode(tickets), as: UTF8.self)); return }
            if tickets.isEmpty { print(all ? "No tickets yet." : "No open tickets."); return }
            let now = Date()
            print(TextTable.render(
                ["ID", "PRIO", "ISSUE", "HOST", "STATE", "UPDATED", "TITLE"],
                tickets.map { t in
                    [String(t.id), t.priority ?? "-", t.issue.map { "#\($0)" } ?? "-", t.host ?? "?", t.state, RelativeTime.describe(t.updatedAt, now: now), String(t.title.prefix(50))]
                }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a ticket's report (as posted) or its JSON.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Ticket id.") var id: Int64
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let detail = try client.get("/operator/tickets/\(id)", as: TicketDetail.self)
            if json { print(String(decoding: try WireCodec.encoder().encode(detail.ticket), as: UTF8.self)); return }
            print(detail.report)
        }
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a ticket by hand (as an issue would), e.g. open --host vps1 \"please check qfield status\".")
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "The host; optional when only one is enrolled.") var host: String?
        @Option(name: .long, help: "Longer text.") var body: String = ""
        @Argument(help: "Title: the words decide whether it is a status request or a problem report.") var title: String

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let ticket = try client.post("/operator/tickets", OpenTicketRequest(host: host, title: title, body: body), as: TicketSummary.self)
            print("ticket \(ticket.id) opened (\(ticket.intent == "status" ? "status request" : "problem report")); follow it with: fieldmedic-coordinator tickets show \(ticket.id)")
        }
    }

    struct Act: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "do",
            abstract: "Give a ticket a command as an approver would: approve [PLAN], deny, diagnose, dry-run, retry.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Ticket id.") var id: Int64
        @Argument(help: "approve, deny, diagnose, dry-run or retry.") var verb: String
        @Argument(help: "For approve: the plan hash shown in the report.") var argument: String?

        func validate() throws {
            guard ChatCommand.Verb(rawValue: verb) != nil else {
                throw ValidationError("VERB must be one of " + ChatCommand.Verb.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let answer = try client.post("/operator/tickets/\(id)/command", TicketCommandRequest(verb: verb, argument: argument), as: TicketCommandResponse.self)
            if let reply = answer.reply { throw OperationalError(reply) }
            print("ticket \(answer.ticket.id): \(answer.ticket.state)")
        }
    }
}

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop automatic fixes fleet-wide (or on one host). Diagnosis and reports go on.")
    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "Only this host.") var host: String?
    @Option(name: .long, help: "Why (goes into the audit log and the reports).") var reason: String?

    func run() async throws {
        let client = try OperatorClient(config: try options.load())
        let state = try client.post("/operator/pause", PauseRequest(host: host, reason: reason), as: PauseState.self)
        print("paused \(host ?? "fleet-wide"); resume with: fieldmedic-coordinator resume" + (host.map { " --host \($0)" } ?? ""))
        PauseCommand.show(state)
    }

    static func show(_ state: PauseState) {
        if state.controls.isEmpty { print("no pause in effect; fixes run"); return }
        for (key, why) in state.controls.sorted(by: { $0.key < $1.key }) { print("  \(key): \(why)") }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let automatic fixes run again (fleet-wide also closes the circuit breaker).")
    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "Only this host.") var host: String?

    func run() async throws {
        let client = try OperatorClient(config: try options.load())
        let state = try client.post("/operator/resume", PauseRequest(host: host, reason: nil), as: PauseState.self)
        print("resumed \(host ?? "fleet-wide")")
        PauseCommand.show(state)
    }
}

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Tickets by outcome, auto-resolution, escalation and false-closure rates, time to fix; sample storage per host-day.")
    @OptionGroup var options: ConfigOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let client = try OperatorClient(config: try options.load())
        let answer = try client.get("/operator/stats", as: StatsResponse.self)
        if json { print(String(decoding: try WireCodec.encoder().encode(answer), as: UTF8.self)); return }
        let stats = answer.tickets
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f %%", $0 * 100) } ?? "—" }
        func secs(_ v: Double?) -> String { v.map { DurationText.human($0) } ?? "—" }
        print("tickets: \(stats.total) (\(stats.open) open)")
        for (outcome, count) in stats.byOutcome.sorted(by: { $0.key < $1.key }) { print("  \(outcome): \(count)") }
        print("auto-resolution rate: \(pct(stats.autoResolutionRate))")
        print("escalation rate:      \(pct(stats.escalationRate))")
        print("false-closure rate:   \(pct(stats.falseClosureRate)) (\(stats.reopenedWithin7Days) reopened within 7 days)")
        print("time to verified fix: median \(secs(stats.medianTimeToFix)), p90 \(secs(stats.p90TimeToFix))")
        let samples = answer.samples
        print("samples: \(samples.rawRows) raw, \(samples.hourlyRows) hourly, over \(String(format: "%.2f", samples.hostDays)) host-days; " + (samples.bytesPerReport.map {
            String(format: "%.0f bytes of row data per report, %.0f KiB per host-day at one report a minute", $0, (samples.bytesPerHostDay ?? 0) / 1024)
        } ?? "none yet"))
    }
}
