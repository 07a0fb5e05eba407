import Foundation
import Shared

/// `restart_service(service[, container])`: restart one container of a compose service (the
/// broken replica, named by `container`), or every container of it when none is named.
struct RestartServiceAction: Action {
    static let name = ActionKind.restartService.rawValue
    static let risk = ActionRisk.safe

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<[String]> {
        try parameters.onlyKnown(["service", "container"])
        let service = try parameters.require("service")
        let finder = ServiceContainers(engine: context.engine, project: context.compose.project)
        let all = try finder.states(of: service)
        let states = try ServiceContainers.select(all, container: parameters.values["container"], service: service)
        return Planned(
            outcome: ActionOutcome(
                action: Self.name, subject: service, dryRun: true,
                plan: states.map { "restart container \($0.name) (\($0.id.prefix(12)), now \($0.status)), then wait until it has been up for \(DurationText.format(context.policy.settle))" }
                    + ServiceContainers.untouched(all, states),
                before: ServiceContainers.snapshot(all)),
            payload: states.map(\.id))
    }

    func execute(_ planned: Planned<[String]>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        for id in planned.payload {
            do { try context.engine.restart(id, stopTimeout: 30) } catch { throw .failed("restarting \(id.prefix(12)) failed: \(error)") }
        }
        return try await settle(planned, context, touched: planned.payload)
    }
}

/// `start_service(service[, container])`: start the containers of a service that are not
/// running (only `container`, when named). Running replicas are never touched: the least
/// disruptive fix for an exited replica.
struct StartServiceAction: Action {
    static let name = ActionKind.startService.rawValue
    static let risk = ActionRisk.safe

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<[String]> {
        try parameters.onlyKnown(["service", "container"])
        let service = try parameters.require("service")
        let all = try ServiceContainers(engine: context.engine, project: context.compose.project).states(of: service)
        let states = try ServiceContainers.select(all, container: parameters.values["container"], service: service)
        let stopped = states.filter { $0.status != "running" && $0.status != "restarting" }
        return Planned(
            outcome: ActionOutcome(
                action: Self.name, subject: service, dryRun: true,
                plan: (stopped.isEmpty ? ["nothing to start: \(states.map(\.name).joined(separator: ", ")) \(states.count == 1 ? "is" : "are") running"]
                    : stopped.map { "start container \($0.name) (\($0.id.prefix(12)), now \($0.status), exit \($0.exitCode))" })
                    + ServiceContainers.untouched(all, stopped),
                before: ServiceContainers.snapshot(all)),
            payload: stopped.map(\.id))
    }

    func execute(_ planned: Planned<[String]>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        for id in planned.payload {
            do { try context.engine.start(id) } catch { throw .failed("starting \(id.prefix(12)) failed: \(error)") }
        }
        return try await settle(planned, context, touched: planned.payload)
    }
}

/// `recreate_service(service)`: `compose up -d --no-deps --force-recreate SERVICE` in the
/// install directory, with its `.env`.
struct RecreateServiceAction: Action {
    static let name = ActionKind.recreateService.rawValue
    static let risk = ActionRisk.guarded

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<[String]> {
        try parameters.onlyKnown(["service"])
        let service = try parameters.require("service")
        let states = try ServiceContainers(engine: context.engine, project: context.compose.project).states(of: service)
        guard let directory = context.compose.directory else {
            throw .invalidParameter("recreate_service needs compose.directory in agent.toml (the install with docker-compose.yml and .env)")
        }
        return Planned(
            outcome: ActionOutcome(
                action: Self.name, subject: service, dryRun: true,
                plan: ["in \(directory): compose up -d --no-deps --force-recreate \(service) (replaces \(states.map(\.name).joined(separator: ", ")))"],
                before: ServiceContainers.snapshot(states)),
            payload: [service])
    }

    func execute(_ planned: Planned<[String]>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        let outcome: ProcessOutcome
        do {
            outcome = try await context.compose.run(["up", "-d", "--no-deps", "--force-recreate", planned.outcome.subject], timeout: 600)
        } catch {
            throw .unavailable("\(error)")
        }
        guard outcome.succeeded else {
            throw .failed("compose up failed (exit \(outcome.status)): \(Redactor.redact(String(outcome.stderr.suffix(2000))))")
        }
        return try await settle(planned, context)
    }
}

extension Action {
    /// After a service action: wait for the containers it touched to settle (all of the
    /// service's when `touched` is nil) and record the "after" side for every container.
    func settle<P>(_ planned: Planned<P>, _ context: ActionContext, touched: [String]? = nil) async throws(ActionError) -> ActionOutcome {
        let finder = ServiceContainers(engine: context.engine, project: context.compose.project)
        let (states, settled) = try await finder.waitToSettle(
            planned.outcome.subject, only: touched.map(Set.init), settle: context.policy.settle, deadline: context.policy.settle + 90)
        var outcome = planned.outcome
        outcome.after = ServiceContainers.snapshot(states)
        outcome.verified = settled
        return outcome
    }
}

/// `collect_logs(service, lines)`: the last lines of a service's containers, redacted.
struct CollectLogsAction: Action {
    static let name = ActionKind.collectLogs.rawValue
    static let risk = ActionRisk.readOnly
    static let maxBytes = 256 << 10

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<([DockerContainer], Int)> {
        try parameters.onlyKnown(["service", "lines"])
        let service = try parameters.require("service")
        let lines = try parameters.int("lines", default: 200, range: 1...5000)
        let containers = try ServiceContainers(engine: context.engine, project: context.compose.project).containers(of: service)
        return Planned(
            outcome: ActionOutcome(
                action: Self.name, subject: service, dryRun: true,
                plan: containers.map { "read the last \(lines) log lines of \($0.name), redact secrets" }),
            payload: (containers, lines))
    }

    func execute(_ planned: Planned<([DockerContainer], Int)>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        var text = ""
        for container in planned.payload.0 {
            let logs: String
            do { logs = try context.engine.logs(container.id, tail: planned.payload.1) } catch { throw .unavailable(error.description) }
            text += "==> \(container.name) <==\n" + Redactor.redact(logs)
            if !text.hasSuffix("\n") { text += "\n" }
        }
        if text.utf8.count > Self.maxBytes {
            text = "[… earlier lines cut at \(Self.maxBytes / 1024) KiB …]\n" + String(decoding: Array(text.utf8.suffix(Self.maxBytes)), as: UTF8.self)
        }
        var outcome = planned.outcome
        outcome.output = text
        return outcome
    }
}
