import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-coordinator run NAME ACTION [--param k=v…] [--dry-run] [--json]`.
struct RunActionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Send one catalog action to agent NAME and print the plan, before/after and verification.",
        discussion: """
            Actions: collect_logs (service, lines), restart_service (service), start_service (service), \
            recreate_service (service), prune_docker, fail_stuck_jobs (older_than), reload_nginx. With --dry-run the \
            agent only says exactly what it would do. The agent's policy and budgets apply; it may refuse.
            """)

    @OptionGroup var options: ConfigOption
    @Argument(help: "The agent.") var name: String
    @Argument(help: "The action, e.g. restart_service.") var action: String
    @Option(name: .customLong("param"), help: "A parameter as key=value (repeatable), e.g. --param service=worker_wrapper.")
    var params: [String] = []
    @Flag(name: .long, help: "Plan only: change nothing.") var dryRun = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "How long to wait for the agent's answer.") var timeout: String = "5m"

    func run() async throws {
        var parameters: [String: String] = [:]
        for param in params {
            guard let equals = param.firstIndex(of: "="), equals != param.startIndex else {
                throw UsageError("--param must be key=value, not \"\(param)\"")
            }
            parameters[String(param[..<equals])] = String(param[param.index(after: equals)...])
        }
        guard let seconds = DurationText.parse(timeout) else { throw UsageError("--timeout must be a duration such as 5m") }
        let client = try OperatorClient(config: try options.load())
        let record = try client.awaitCommand(
            agent: name, request: QueueCommandRequest(kind: action, params: parameters, dryRun: dryRun), timeout: seconds)
        if json {
            print(String(decoding: try WireCodec.encoder().encode(record), as: UTF8.self))
        }
        guard let result = record.result else {
            throw OperationalError("agent \(name) did not answer within \(timeout) (command \(record.id) is \(record.state.rawValue))")
        }
        if !json {
            if let outcome = result.action {
                print(ReportFormatter.render(outcome, status: result.status.rawValue, message: result.message))
            } else {
                print("\(result.status.rawValue): \(result.message)")
            }
        }
        if result.status != .succeeded { throw ExitCode(ExitStatus.failure) }
    }
}
