import Foundation
import GRDB
import Logging
import Shared
import X509

/// `fieldmedic-agent run`: two threads that each own a connection to the coordinator.
/// The reporter collects a report every interval into the spool and drains the spool; the
/// command runner long-polls for commands and runs them at most once.
final class AgentRuntime: Sendable {
    let config: AgentConfig
    let identity: AgentIdentity
    let logger: Logger
    let spool: ReportSpool
    let journal: CommandJournal
    let executor: CommandExecutor
    let stop = AbortFlag()
    let reportWakeup = Wakeup()
    let commandWakeup = Wakeup()
    let eventWakeup = Wakeup()
    /// Set by a Docker event that concerns the project: report now, not at the next tick.
    let urgentReport = LockedValue(false)
    /// Event-triggered reports are at least this far apart (events come in bursts).
    let urgentGap: TimeInterval = 1

    init(config: AgentConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let paths = config.paths
        identity = try config.requireIdentity()
        guard paths.isEnrolled else {
            throw OperationalError("this agent is not enrolled yet (no \(paths.certificate)): run `fieldmedic-agent enroll --coordinator URL --name \(identity.name) --token TOKEN --config \(config.path)`")
        }
        try paths.checkKey()
        let pool = try AgentDatabase.open(path: paths.database)
        spool = ReportSpool(pool: pool, maxAge: config.spoolMaxAge, logger: logger)
        let journal = CommandJournal(pool: pool)
        self.journal = journal
        var executor = CommandExecutor(
            agent: identity.name, probes: ProbeSet.standard(config), journalHead: { try? journal.head() },
            actionContext: config.actionContext(agent: identity.name), budget: ActionBudget(pool: pool, backoffBase: config.actions.backoff))
        if let hold = ProcessInfo.processInfo.environment["FIELDMEDIC_AGENT_TEST_HOLD_COMMAND"].flatMap(DurationText.parse) {
            executor.holdForTests = hold
        }
        self.executor = executor
    }

    /// Runs until SIGTERM or SIGINT.
    func run() {
        logger.info("agent starting", metadata: [
            "name": "\(identity.name)", "coordinator": "\(identity.coordinatorURL)", "interval": "\(DurationText.format(config.reportInterval))",
            "spooled": "\(spool.count)",
        ])
        let done = DispatchGroup()
        startThread("fieldmedic-reporter", done) { [self] in reporterLoop() }
        startThread("fieldmedic-commands", done) { [self] in commandLoop() }
        startThread("fieldmedic-events", done) { [self] in eventLoop() }
        let signals = installSignalHandlers()
        // The sources must outlive the wait: an optimised build would release them at once
        // and SIGTERM would then be ignored.
        withExtendedLifetime(signals) { done.wait() }
        logger.info("agent stopped", metadata: ["spooled": "\(spool.count)"])
    }

    private func startThread(_ name: String, _ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread {
            body()
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    func shutdown() {
        stop.set()
        reportWakeup.signal()
        commandWakeup.signal()
        eventWakeup.signal()
    }

    private func installSignalHandlers() -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                logger.info("signal received, stopping", metadata: ["signal": "\(number)"])
                shutdown()
            }
            source.resume()
            return source
        }
    }

    // MARK: Reporter

    private func reporterLoop() {
        let client = CoordinatorClient(baseURL: identity.coordinatorURL, paths: config.paths, abort: stop)
        var nextCollect = Date()
        var lastCollect = Date.distantPast
        var nextSend = Date()
        var backoff = Backoff(initial: 1, maximum: max(60, config.reportInterval))
        var outageSince: Date?
        var failedAttempts = 0
        while !stop.isSet {
            let now = Date()
            let urgent = urgentReport.value && now.timeIntervalSince(lastCollect) >= urgentGap
            if now >= nextCollect || urgent {
                if urgent { urgentReport.value = false }
                collectReport()
                lastCollect = Date()
                if now >= nextCollect {
                    renewIfDue(client)
                    nextCollect = max(nextCollect.addingTimeInterval(config.reportInterval), now)
                }
                // A fresh report goes out at once, whatever the backoff said.
                if urgent { nextSend = Date() }
            }
            if !stop.isSet, Date() >= nextSend, spool.count > 0 {
                do {
                    let sent = try drainSpool(client)
                    if let since = outageSince {
                        logger.notice("coordinator reachable again; replayed the spool", metadata: [
                            "reports": "\(sent)", "outage": "\(DurationText.format(Date().timeIntervalSince(since).rounded()))",
                            "attempts": "\(failedAttempts)",
                        ])
                    }
                    outageSince = nil
                    failedAttempts = 0
                    backoff.reset()
                } catch {
                    if stop.isSet { break }
                    let delay = backoff.nextDelay()
                    nextSend = Date().addingTimeInterval(delay)
                    failedAttempts += 1
                    if outageSince == nil {
                        outageSince = Date()
                        logger.warning("cannot deliver health reports; spooling them", metadata: ["error": "\(error)", "retry_in": "\(String(format: "%.1fs", delay))"])
                    } else {
                        logger.debug("still cannot deliver health reports", metadata: ["error": "\(error)", "spooled": "\(spool.count)"])
                    }
                }
            }
            var wakeAt = spool.count > 0 ? min(nextCollect, nextSend) : nextCollect
            if urgentReport.value { wakeAt = min(wakeAt, lastCollect.addingTimeInterval(urgentGap)) }
            reportWakeup.wait(until: wakeAt)
        }
    }

    private func collectReport() {
        var report = blockingAwait { [executor] in await executor.probes.collect(agent: executor.agent) }
        report.journalHead = try? journal.head()
        do {
            try spool.append(report)
        } catch {
            if SQLiteStore.isDiskFull(error) {
                logger.error("disk full: this report could not be spooled and is lost", metadata: ["error": "\(error)"])
            } else {
                logger.error("cannot spool the health report", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Sends the spool oldest first in batches; returns how many reports went out.
    private func drainSpool(_ client: CoordinatorClient) throws -> Int {
        var sent = 0
        while !stop.isSet {
            let batch = try spool.oldest(limit: 100)
            guard let last = batch.last else { break }
            let receipt = try client.sendHealth(batch)
            try spool.remove(throughSequence: last.sequence)
            sent += batch.count
            logger.debug("health reports delivered", metadata: ["accepted": "\(receipt.accepted)", "duplicates": "\(receipt.duplicates)"])
        }
        return sent
    }

    /// Renews the client certificate once two thirds of its life have passed (same key).
    private func renewIfDue(_ client: CoordinatorClient) {
        let paths = config.paths
        guard let certificate = try? PEMFile.readCertificate(paths.certificate) else { return }
        let life = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
        guard Date() >= certificate.notValidBefore.addingTimeInterval(life * 2 / 3) else { return }
        do {
            let key = AgentKey(key: try PEMFile.readPrivateKey(paths.key, what: "agent private key"))
            let grant = try client.renew(csrPEM: try key.certificateSigningRequest(name: identity.name))
            let renewed = try PEMFile.certificate(fromPEM: grant.certificatePEM, what: "renewed certificate")
            guard renewed.agentName == identity.name, renewed.publicKey == certificate.publicKey else {
                logger.error("coordinator returned a renewed certificate for another identity; keeping the current one")
                return
            }
            try AtomicFile.write(Data(grant.certificatePEM.utf8), to: paths.certificate)
            logger.notice("client certificate renewed", metadata: ["serial": "\(grant.serial)", "not_after": "\(WireDate.format(grant.notAfter))"])
        } catch {
            logger.warning("certificate renewal failed; will retry at the next report", metadata: [
                "error": "\(error)", "expires": "\(WireDate.format(certificate.notValidAfter))",
            ])
        }
    }

    // MARK: Docker events

    /// Follows the engine's event stream; an event about the project (die, oom, health
    /// status, restart…) triggers a report at once, so detection does not wait a minute.
    private func eventLoop() {
        let engine = DockerEngineClient(socketPath: config.dockerSocket)
        var backoff = Backoff(initial: 1, maximum: 30)
        while !stop.isSet {
            do {
                try engine.followEvents(project: config.compose.project, abort: stop) { [self] event in
                    logger.info("docker event", metadata: [
                        "action": "\(event.action)", "service": "\(event.service ?? "?")", "container": "\(event.containerID.prefix(12))",
                    ])
                    urgentReport.value = true
                    reportWakeup.signal()
                    backoff.reset()
                    return true
                }
            } catch {
                if stop.isSet { break }
                let delay = backoff.nextDelay()
                if backoff.failures == 1 {
                    logger.warning("cannot follow Docker events; reports keep their interval", metadata: ["error": "\(error)"])
                }
                eventWakeup.wait(until: Date().addingTimeInterval(delay))
                continue
            }
            // The stream ended (engine restart): reconnect after a short pause.
            if !stop.isSet { eventWakeup.wait(until: Date().addingTimeInterval(backoff.nextDelay())) }
        }
    }

    // MARK: Commands

    private func commandLoop() {
        let client = CoordinatorClient(baseURL: identity.coordinatorURL, paths: config.paths, abort: stop)
        markInterrupted()
        var backoff = Backoff(initial: 1, maximum: 60)
        while !stop.isSet {
            do {
                try reportFinished(client)
                guard let command = try client.nextCommand(wait: 25) else {
                    backoff.reset()
                    continue
                }
                backoff.reset()
                try run(command, client)
            } catch {
                if stop.isSet { break }
                let delay = backoff.nextDelay()
                if backoff.failures == 1 {
                    logger.warning("command channel interrupted", metadata: ["error": "\(error)", "retry_in": "\(String(format: "%.1fs", delay))"])
                }
                commandWakeup.wait(until: Date().addingTimeInterval(delay))
            }
        }
    }

    /// Commands journaled as received but never finished: the agent died while running them.
    /// They are reported `interrupted` and never run again.
    private func markInterrupted() {
        do {
            for command in try journal.unfinished() {
                let result = CommandResult(
                    commandId: command.id, status: .interrupted,
                    message: "the agent stopped while running \(command.kind); it was not run again", startedAt: nil, finishedAt: Date())
                try journal.record(.finished, commandID: command.id, body: try encode(result))
                logger.warning("command was interrupted by an agent restart; reporting it, not re-running it", metadata: ["command": "\(command.id)", "kind": "\(command.kind)"])
            }
        } catch {
            logger.error("cannot read the command journal", metadata: ["error": "\(error)"])
        }
    }

    private func run(_ command: Command, _ client: CoordinatorClient) throws {
        if !(try journal.events(commandID: command.id)).isEmpty {
            logger.warning("command already in the journal; not running it again", metadata: ["command": "\(command.id)"])
            return
        }
        try journal.record(.received, commandID: command.id, body: try encode(command))
        logger.info("running command", metadata: ["command": "\(command.id)", "kind": "\(command.kind)"])
        let result = blockingAwait { [executor] in await executor.execute(command) }
        try journal.record(.finished, commandID: command.id, body: try encode(result))
        logger.info("command finished", metadata: ["command": "\(command.id)", "status": "\(result.status.rawValue)"])
        try reportFinished(client)
    }

    /// Posts every finished, unacknowledged result; a result the coordinator does not know is
    /// logged and marked reported, so one bad row cannot block the channel.
    private func reportFinished(_ client: CoordinatorClient) throws {
        for result in try journal.unreported() {
            do {
                try client.sendResult(result)
            } catch {
                if error.isRetryable { throw error }
                logger.error("coordinator refused a command result; dropping it", metadata: ["command": "\(result.commandId)", "error": "\(error)"])
            }
            try journal.record(.reported, commandID: result.commandId, body: "{}")
        }
    }

    private func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try WireCodec.encode(value), as: UTF8.self)
    }
}

/// Runs async work from one of the runtime's own threads (never from the cooperative pool).
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = LockedValue<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}
