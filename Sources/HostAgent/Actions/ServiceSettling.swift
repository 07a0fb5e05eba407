import Foundation
import Shared

/// Finding a compose service's containers, snapshotting them, and waiting for them to settle
/// after an action: running (healthy, when there is a healthcheck) and not restarted again for
/// the settle time.
struct ServiceContainers {
    var engine: any DockerEngine
    var project: String

    func containers(of service: String) throws(ActionError) -> [DockerContainer] {
        let all: [DockerContainer]
        do { all = try engine.containers(project: project) } catch { throw .unavailable(error.description) }
        let matching = all.filter { $0.service == service && $0.labels["com.docker.compose.oneoff"] != "True" }
        if matching.isEmpty {
            let known = Set(all.compactMap(\.service)).sorted()
            throw .invalidParameter(
                "no service \"\(service)\" in compose project \(project)" + (known.isEmpty ? " (the project has no containers)" : "; services: \(known.joined(separator: ", "))"))
        }
        return matching.sorted { $0.name < $1.name }
    }

    func states(of service: String) throws(ActionError) -> [DockerContainerState] {
        var out: [DockerContainerState] = []
        for container in try containers(of: service) {
            do { out.append(try engine.inspect(container.id)) } catch { throw .unavailable(error.description) }
        }
        return out
    }

    /// The containers an action may touch: the one named (it must belong to the service), or all.
    static func select(_ states: [DockerContainerState], container: String?, service: String) throws(ActionError) -> [DockerContainerState] {
        guard let container, !container.isEmpty else { return states }
        let wanted = container.hasPrefix("/") ? String(container.dropFirst()) : container
        let match = states.filter { $0.name == wanted || $0.id == wanted || ($0.id.hasPrefix(wanted) && wanted.count >= 12) }
        guard !match.isEmpty else {
            throw .invalidParameter("no container \"\(container)\" in service \(service); its containers: \(states.map(\.name).joined(separator: ", "))")
        }
        return match
    }

    /// Plan lines naming the containers of the service that the action leaves alone.
    static func untouched(_ all: [DockerContainerState], _ touched: [DockerContainerState]) -> [String] {
        let ids = Set(touched.map(\.id))
        return all.filter { !ids.contains($0.id) }.map { "leave \($0.name) alone (\($0.status))" }
    }

    static func snapshot(_ states: [DockerContainerState]) -> [String: String] {
        var facts: [String: String] = [:]
        for state in states {
            facts["\(state.name) state"] = state.status + (state.health.map { " (\($0))" } ?? "")
            facts["\(state.name) restarts"] = String(state.restartCount)
            facts["\(state.name) exit code"] = String(state.exitCode)
            facts["\(state.name) started"] = state.startedAt.map(WireDate.format) ?? "-"
        }
        return facts
    }

    static func isUp(_ state: DockerContainerState) -> Bool {
        state.status == "running" && (state.health == nil || state.health == "healthy")
    }

    /// Polls until every container of `service` has been up, without a new start, for
    /// `settle` seconds, or `deadline` passes. Returns the last states and whether it settled.
    /// `only`: the container ids to wait for (the others are snapshotted, not waited on).
    func waitToSettle(_ service: String, only: Set<String>? = nil, settle: TimeInterval, deadline: TimeInterval) async throws(ActionError) -> ([DockerContainerState], Bool) {
        let end = Date().addingTimeInterval(deadline)
        var upSince: Date?
        var lastStarts: [String: Date?] = [:]
        var states: [DockerContainerState] = []
        while true {
            states = try self.states(of: service)
            let watched = only.map { ids in states.filter { ids.contains($0.id) } } ?? states
            let starts = Dictionary(watched.map { ($0.id, $0.startedAt) }, uniquingKeysWith: { a, _ in a })
            if watched.allSatisfy(Self.isUp) && starts == lastStarts {
                if let since = upSince, Date().timeIntervalSince(since) >= settle { return (states, true) }
                if upSince == nil { upSince = Date() }
            } else {
                upSince = watched.allSatisfy(Self.isUp) ? Date() : nil
            }
            lastStarts = starts
            if Date() >= end { return (states, false) }
            try? await Task.sleep(for: .milliseconds(settle == 0 ? 100 : 500))
            if settle == 0, upSince != nil { return (states, true) }
        }
    }
}
