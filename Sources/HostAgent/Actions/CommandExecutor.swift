import Foundation
import Shared

/// Runs commands from the compiled-in catalog. Anything else is refused, never interpreted.
struct CommandExecutor: Sendable {
    let agent: String
    let probes: ProbeSet
    let journalHead: @Sendable () -> ChainHead?
    /// Test hook: hold every command this long after journaling it, so tests can kill the
    /// agent mid-command. Set only through FIELDMEDIC_AGENT_TEST_HOLD_COMMAND.
    var holdForTests: TimeInterval = 0

    func execute(_ command: Command) async -> CommandResult {
        let started = Date()
        if holdForTests > 0 { try? await Task.sleep(for: .milliseconds(Int(holdForTests * 1000))) }
        switch command.kind {
        case "diagnose":
            var report = await probes.collect(agent: agent)
            report.journalHead = journalHead()
            let summary = report.findings.isEmpty ? "no findings" : "\(report.findings.count) finding(s): " + report.findings.map(\.code).joined(separator: ", ")
            return CommandResult(commandId: command.id, status: .succeeded, message: summary, startedAt: started, finishedAt: Date(), diagnosis: report)
        default:
            return CommandResult(
                commandId: command.id, status: .refused,
                message: "unknown command \"\(command.kind)\": this agent (\(FieldMedicVersion.current)) runs only: diagnose",
                startedAt: started, finishedAt: Date())
        }
    }
}
