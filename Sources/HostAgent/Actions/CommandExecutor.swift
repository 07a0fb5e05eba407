import Foundation
import Logging
import Shared

/// Runs commands from the compiled-in catalog, under the host's policy and budgets.
/// Anything else is refused, never interpreted.
struct CommandExecutor: Sendable {
    let agent: String
    let probes: ProbeSet
    let journalHead: @Sendable () -> ChainHead?
    /// nil where no action can run (a host without Docker access, or unit tests of diagnose).
    var actionContext: ActionContext?
    var budget: ActionBudget?
    /// Test hook: hold every command this long after journaling it, so tests can kill the
    /// agent mid-command. Set only through FIELDMEDIC_AGENT_TEST_HOLD_COMMAND.
    var holdForTests: TimeInterval = 0

    func execute(_ command: Command) async -> CommandResult {
        let started = Date()
        if holdForTests > 0 { try? await Task.sleep(for: .milliseconds(Int(holdForTests * 1000))) }
        func result(_ status: CommandStatus, _ message: String, diagnosis: HealthReport? = nil, action: ActionOutcome? = nil) -> CommandResult {
            CommandResult(commandId: command.id, status: status, message: message, startedAt: started, finishedAt: Date(), diagnosis: diagnosis, action: action)
        }

        if command.kind == ActionKind.diagnose.rawValue {
            var report = await probes.collect(agent: agent)
            report.journalHead = journalHead()
            let summary = report.findings.isEmpty ? "no findings" : "\(report.findings.count) finding(s): " + report.findings.map(\.code).joined(separator: ", ")
            return result(.succeeded, summary, diagnosis: report)
        }
        guard let action = ActionCatalog.action(named: command.kind) else {
            return result(.refused, "unknown command \"\(command.kind)\": this agent (\(FieldMedicVersion.current)) runs only: \(ActionCatalog.names.sorted().joined(separator: ", "))")
        }
        guard var context = actionContext else {
            return result(.refused, "actions are unavailable on this agent (no Docker engine configured)")
        }
        context.commandID = command.id
        let policy = context.policy
        let limits = policy.limits(for: action.name)
        if action.risk != .readOnly && !command.dryRun {
            guard policy.enabled else {
                return result(.refused, "actions are disabled on this host (actions.enabled = false in \(agent)'s agent.toml)")
            }
            guard limits.enabled else {
                return result(.refused, "\(action.name) is disabled on this host ([actions.\(action.name)] enabled = false)")
            }
        }
        let parameters = ActionParameters(values: command.params, action: action.name)
        do {
            let guarded = action.risk != .readOnly ? budget : nil
            let outcome = try await action.run(parameters, dryRun: command.dryRun, context) { (planned) throws(ActionError) in
                guard let guarded else { return }
                let decision: ActionBudget.Decision
                do {
                    decision = try guarded.claim(action: action.name, subject: planned.subject, limits: limits, commandID: command.id)
                } catch {
                    throw .unavailable("cannot read this host's action budget: \(error)")
                }
                if case .refused(let why) = decision { throw .refused(why) }
            }
            if command.dryRun { return result(.succeeded, "dry run: \(outcome.plan.count) step(s) planned, nothing changed", action: outcome) }
            switch outcome.verified {
            case .some(false): return result(.failed, "\(action.name) of \(outcome.subject) ran but did not verify", action: outcome)
            default: return result(.succeeded, "\(action.name) of \(outcome.subject) " + (outcome.verified == true ? "verified" : "done"), action: outcome)
            }
        } catch let error as ActionError {
            switch error {
            case .invalidParameter, .refused: return result(.refused, error.description)
            default: break
            }
            return result(.failed, error.description)
        } catch {
            return result(.failed, "\(error)")
        }
    }
}
