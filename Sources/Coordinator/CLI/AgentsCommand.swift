import ArgumentParser
import Foundation
import Shared

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "Enroll, list and revoke agents.",
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a one-time join token for agent NAME (it replaces any unused one). The token is the last line of output.")

        @OptionGroup var options: ConfigOption
        @Argument(help: "Agent name: a-z, 0-9, '.', '-', '_' (e.g. the VPS host name).")
        var name: String

        func run() async throws {
            let config = try options.load()
            let client = try OperatorClient(config: config)
            let answer = try client.post("/operator/agents", AddAgentRequest(name: name), as: AddAgentResponse.self)
            let url = config.enrollURL()
            print("Join token for \(answer.name) (one use, expires \(WireDate.format(answer.expiresAt)); it replaces any unused token for \(answer.name)). On the host, run:")
            print("  fieldmedic-agent enroll --coordinator \(url) --name \(answer.name) --token <token below>")
            if config.agentsPublicURL == nil {
                print("  (\(url) is derived from listen.agents; if agents reach this coordinator by another name, set agents.public_url in \(options.config))")
            }
            print(answer.token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List agents: state, last report, certificate expiry.")

        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let agents = try client.get("/operator/agents", as: [AgentSummary].self)
            if json {
                print(String(decoding: try WireCodec.encoder().encode(agents), as: UTF8.self))
                return
            }
            if agents.isEmpty {
                print("No agents yet. Add one with: fieldmedic-coordinator agents add NAME")
                return
            }
            let now = Date()
            print(TextTable.render(
                ["NAME", "STATE", "LAST REPORT", "REPORTS", "CERT EXPIRES"],
                agents.map { agent in
                    let state = agent.state == .active ? (agent.online ? "online" : "offline") : agent.state.rawValue
                    return [agent.name, state, RelativeTime.describe(agent.lastReportAt, now: now), String(agent.reportCount),
                            RelativeTime.describe(agent.certificateNotAfter, now: now)]
                }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke every certificate of agent NAME, void its unused join tokens and cancel its queued commands; its next request is refused.")

        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let answer = try client.post(try OperatorPath.agent(name, "/revoke"), [String: String](), as: RevokeResponse.self)
            print("Revoked agent \(answer.agent) (\(answer.revokedCertificates) certificate(s)).")
        }
    }
}

struct HostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts", abstract: "Show what agents report about their hosts.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the latest report of host NAME.")

        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let client = try OperatorClient(config: try options.load())
            let view = try client.get(try OperatorPath.agent(name), as: HostView.self)
            let trends = try client.get(try OperatorPath.agent(name, "/trends"), as: HostTrends.self)
            if json {
                var view = view
                view.trends = trends
                print(String(decoding: try WireCodec.encoder().encode(view), as: UTF8.self))
                return
            }
            let agent = view.agent
            let state = agent.state == .active ? (agent.online ? "online" : "offline") : agent.state.rawValue
            print("\(agent.name): \(state), \(agent.reportCount) reports, last \(RelativeTime.describe(agent.lastReportAt)), certificate expires \(RelativeTime.describe(agent.certificateNotAfter))")
            if let report = view.latestReport {
                print()
                print(ReportFormatter.render(report))
            } else {
                print("No report received yet.")
            }
            print()
            print(trends.render())
        }
    }
}

struct DiagnoseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose", abstract: "Ask agent NAME to run its probes now and print what it finds.")

    @OptionGroup var options: ConfigOption
    @Argument var name: String
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "How long to wait for the agent's answer, e.g. 60s.") var timeout: String = "60s"

    func run() async throws {
        guard let seconds = DurationText.parse(timeout) else { throw UsageError("--timeout must be a duration such as 60s") }
        let client = try OperatorClient(config: try options.load())
        let record = try client.awaitCommand(
            agent: name, request: QueueCommandRequest(kind: ActionKind.diagnose.rawValue, params: [:], dryRun: false), timeout: seconds)
        if json {
            print(String(decoding: try WireCodec.encoder().encode(record), as: UTF8.self))
        }
        guard record.state.isFinished, let result = record.result else {
            throw OperationalError("agent \(name) did not answer within \(timeout) (command \(record.id) is \(record.state.rawValue)); is the agent running? See `fieldmedic-coordinator agents list`.")
        }
        if !json {
            if let report = result.diagnosis {
                print(ReportFormatter.render(report))
            } else {
                print("\(result.status.rawValue): \(result.message)")
            }
        }
        if result.status != .succeeded { throw ExitCode(ExitStatus.failure) }
    }
}
