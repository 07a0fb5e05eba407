import Foundation
import Shared

/// How much an action can break. Read-only actions always run; the others count against the
/// host's budgets and obey its policy.
enum ActionRisk: String, Sendable {
    case readOnly = "read-only"
    case safe
    case guarded
}

/// Everything an action may touch on this host.
struct ActionContext: Sendable {
    var agent: String
    var engine: any DockerEngine
    var compose: ComposeProject
    var queue: QueueDatabase?
    var policy: ActionPolicy
    var stuckJobAfter: TimeInterval
    var commandID: String
    /// What reload_nginx reloads and checks; nil without `[tls] url`.
    var tls: TLSTarget? = nil
}

/// The public address whose served certificate must match the file on disk.
struct TLSTarget: Sendable {
    var url: String
    /// Extra CA (tests, private installs); nil = the system store.
    var caFile: String?
    var onDisk: CertificateOnDisk
    /// How long a reload may take until the new certificate is served.
    var verifyTimeout: TimeInterval = 30
}

/// One entry of the compiled-in catalog. `plan` checks the parameters and says exactly what
/// would be done, changing nothing (that is the dry run); `execute` does it, waits for the
/// subject to settle, and says whether it worked.
///
/// ```swift
/// struct RestartServiceAction: Action {
///     static let name = ActionKind.restartService.rawValue
///     static let risk = ActionRisk.safe
///     func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<[String]> { … }
///     func execute(_ planned: Planned<[String]>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome { … }
/// }
/// ```
protocol Action: Sendable {
    associatedtype Payload: Sendable
    static var name: String { get }
    static var risk: ActionRisk { get }
    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<Payload>
    func execute(_ planned: Planned<Payload>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome
}

/// A plan: what the operator sees (outcome with steps and "before"), and what execute needs.
struct Planned<Payload: Sendable>: Sendable {
    var outcome: ActionOutcome
    var payload: Payload
}

extension Action {
    var name: String { Self.name }
    var risk: ActionRisk { Self.risk }

    /// Plans, and unless `dryRun`, executes.
    /// `beforeExecuting` sees the plan (its subject is known only once the parameters are
    /// checked) and may refuse by throwing; it is not called for dry runs.
    func run(
        _ parameters: ActionParameters, dryRun: Bool, _ context: ActionContext,
        beforeExecuting: (ActionOutcome) throws(ActionError) -> Void = { _ in }
    ) async throws(ActionError) -> ActionOutcome {
        let started = Date()
        let planned = try await plan(parameters, context)
        if !dryRun { try beforeExecuting(planned.outcome) }
        var outcome = dryRun ? planned.outcome : try await execute(planned, context)
        outcome.dryRun = dryRun
        outcome.durationSeconds = Date().timeIntervalSince(started)
        return outcome
    }
}

/// Parameters as sent: strings, checked by each action; unknown ones are refused.
struct ActionParameters: Sendable {
    var values: [String: String]
    var action: String

    func require(_ key: String) throws(ActionError) -> String {
        guard let value = values[key], !value.isEmpty else { throw .invalidParameter("\(action) needs --param \(key)=…") }
        return value
    }

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(ActionError) -> Int {
        guard let text = values[key] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw .invalidParameter("\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return value
    }

    func duration(_ key: String, default fallback: TimeInterval, minimum: TimeInterval) throws(ActionError) -> TimeInterval {
        guard let text = values[key] else { return fallback }
        guard let value = DurationText.parse(text), value >= minimum else {
            throw .invalidParameter("\(key) must be a duration of at least \(DurationText.format(minimum)) such as \"30m\", not \"\(text)\"")
        }
        return value
    }

    func onlyKnown(_ known: Set<String>) throws(ActionError) {
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            let list = known.isEmpty ? "none" : known.sorted().joined(separator: ", ")
            throw .invalidParameter("\(action) takes no parameter \"\(unknown)\" (parameters: \(list))")
        }
    }
}

enum ActionError: Error, CustomStringConvertible {
    /// Bad parameters: nothing was done.
    case invalidParameter(String)
    /// The engine or database could not be reached: nothing (more) was done.
    case unavailable(String)
    /// It was attempted and failed part way.
    case failed(String)
    /// The host's guardrails said no: nothing was done.
    case refused(String)

    var description: String {
        switch self {
        case .invalidParameter(let why): return "invalid parameters: \(why)"
        case .unavailable(let why): return why
        case .failed(let why): return why
        case .refused(let why): return why
        }
    }
}
