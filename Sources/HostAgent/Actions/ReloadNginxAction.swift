import Foundation
import Shared

/// `reload_nginx`: `nginx -t`, then `nginx -s reload`, inside the running proxy container
/// (argument arrays through the Engine API's exec, no shell), then wait until the address
/// serves the certificate that is on disk. nginx reloads gracefully: open connections finish
/// on the old workers. The container is never restarted.
struct ReloadNginxAction: Action {
    static let name = ActionKind.reloadNginx.rawValue
    static let risk = ActionRisk.safe

    struct Payload: Sendable {
        var container: String
        var target: TLSTarget
        var disk: CertificateOnDisk.Located
        /// Already served: nothing to reload.
        var nothingToDo: Bool
    }

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<Payload> {
        try parameters.onlyKnown([])
        guard let target = context.tls else {
            throw .invalidParameter("reload_nginx needs `[tls] url` in agent.toml: the address whose certificate it checks after the reload")
        }
        let service = target.onDisk.service
        let states = try ServiceContainers(engine: context.engine, project: context.compose.project).states(of: service)
        guard let running = states.first(where: { $0.status == "running" }) else {
            throw .refused("no running \(service) container to reload (\(states.map { "\($0.name): \($0.status)" }.joined(separator: ", "))); start it first")
        }
        let disk: CertificateOnDisk.Located
        do { disk = try target.onDisk.read() } catch { throw .unavailable(error.description) }
        let served = ServedChain.fetch(url: target.url, caFile: target.caFile)
        guard let diskLeaf = disk.chain.first else { throw .unavailable("no certificate in \(disk.path)") }
        let verdict = TLSMismatchRule.verdict(served: served.certificates, disk: disk.chain)
        if case .otherCertificate(newerOnDisk: false) = verdict, let servedLeaf = served.certificates.first {
            throw .refused("the certificate in \(disk.path) (\(diskLeaf.summary)) is not newer than the one \(service) serves (\(servedLeaf.summary)): reloading would serve the older one. Point QFIELDCLOUD_TLS_CERT at the renewed file first.")
        }
        let nothingToDo = !served.certificates.isEmpty && verdict == .same
        let steps = nothingToDo
            ? ["nothing to reload: \(target.url) already serves the certificate in \(disk.path) (\(diskLeaf.summary))"]
            : [
                "in container \(running.name) (\(running.id.prefix(12))): nginx -t; stop here if the configuration test fails",
                "in container \(running.name): nginx -s reload (graceful: open connections finish on the old workers; the container is not restarted)",
                "then wait up to \(DurationText.format(target.verifyTimeout)) until \(target.url) serves the certificate in \(disk.path) (\(diskLeaf.summary), \(disk.chain.count) in the chain)",
            ]
        return Planned(
            outcome: ActionOutcome(action: Self.name, subject: service, dryRun: true, plan: steps,
                before: Self.snapshot(served.certificates, target.url), after: [:]),
            payload: Payload(container: running.id, target: target, disk: disk, nothingToDo: nothingToDo))
    }

    func execute(_ planned: Planned<Payload>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        let payload = planned.payload
        var outcome = planned.outcome
        if !payload.nothingToDo {
            try runInContainer(["nginx", "-t"], in: payload.container, context, what: "the configuration test (nothing was reloaded)")
            try runInContainer(["nginx", "-s", "reload"], in: payload.container, context, what: "the reload")
        }
        // nginx answers the signal at once, its new workers take over a moment later.
        let deadline = Date().addingTimeInterval(payload.target.verifyTimeout)
        var served = ServedChain.fetch(url: payload.target.url, caFile: payload.target.caFile)
        while TLSMismatchRule.verdict(served: served.certificates, disk: payload.disk.chain) != .same || served.certificates.isEmpty {
            if Date() >= deadline { break }
            try? await Task.sleep(for: .milliseconds(250))
            served = ServedChain.fetch(url: payload.target.url, caFile: payload.target.caFile)
        }
        outcome.after = Self.snapshot(served.certificates, payload.target.url)
        outcome.verified = !served.certificates.isEmpty && TLSMismatchRule.verdict(served: served.certificates, disk: payload.disk.chain) == .same
        return outcome
    }

    private func runInContainer(_ command: [String], in container: String, _ context: ActionContext, what: String) throws(ActionError) {
        let outcome: ProcessOutcome
        do {
            outcome = try context.engine.exec(container, command: command, input: Data(), timeout: 30)
        } catch {
            throw .unavailable("\(command.joined(separator: " ")) could not be run in \(container.prefix(12)): \(error.description)")
        }
        guard outcome.succeeded else {
            let output = Redactor.redact(String((outcome.stderr + outcome.stdout).suffix(2000))).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .failed("\(command.joined(separator: " ")) failed (exit \(outcome.timedOut ? "none: timed out" : String(outcome.status))), so \(what) failed: \(output)")
        }
    }

    /// The served leaf, for the before/after table.
    static func snapshot(_ chain: [CertificateFacts], _ url: String) -> [String: String] {
        guard let leaf = chain.first else { return ["served": "no certificate from \(url)"] }
        return ["served_serial": leaf.serial, "served_not_after": WireDate.format(leaf.notAfter), "served_chain": String(chain.count),
                "served_sha256": String(leaf.sha256.prefix(16))]
    }
}
