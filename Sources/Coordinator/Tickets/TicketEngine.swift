import Foundation
import Logging
import Shared

typealias FullStore = CoordinatorStore & TicketStore & PredictStore

/// The ticket state machine: `received → diagnosing → planned → awaiting_approval → fixing →
/// verifying → resolved | escalated | healthy`. Every transition is saved (with its audit row)
/// before the next side effect; commands carry ids derived from ticket, run and step, so a
/// coordinator restarted at any point resumes without sending a fix twice.
struct TicketEngine: Sendable {
    let store: any FullStore
    let fleet: FleetService
    let config: TicketConfig
    let clock: any WallClock
    let logger: Logger
    /// Asks GitHub for a login's permission (for `approve_with_write_permission`).
    let permission: (@Sendable (String) async throws -> String)?

    static let wakeKey = "tickets"
    /// Held by every entry point that changes tickets (see TicketMutex).
    let mutex: TicketMutex
    static let actor = "fieldmedic"

    init(store: any FullStore, fleet: FleetService, config: TicketConfig, clock: any WallClock, logger: Logger,
         permission: (@Sendable (String) async throws -> String)? = nil, mutex: TicketMutex = TicketMutex()) {
        self.store = store
        self.fleet = fleet
        self.config = config
        self.clock = clock
        self.logger = logger
        self.permission = permission
        self.mutex = mutex
    }

    // MARK: Opening

    /// Stores a new ticket (or finds the one for the same issue) and wakes the runner.
    @discardableResult
    func open(_ ticket: Ticket, via: String) async throws -> (ticket: Ticket, created: Bool) {
        var fresh = ticket
        fresh.note("Received via \(via) (\(fresh.intent == .status ? "status request" : fresh.intent == .checklist ? "standing checklist" : "problem report")).", at: fresh.createdAt)
        let result = try await store.insertTicket(
            fresh,
            audit: AuditEntry(at: clock.now(), actor: via, action: "ticket.received", subject: "ticket",
                              details: ["source": ticket.source.rawValue, "issue": ticket.issueNumber.map(String.init) ?? "-",
                                        "intent": ticket.intent.rawValue, "title": ticket.title]))
        if result.created {
            logger.info("ticket opened", metadata: ["ticket": "\(result.ticket.id)", "issue": "\(ticket.issueNumber.map(String.init) ?? "-")"])
            await wake()
        }
        return result
    }

    func wake() async { await fleet.notifier.notify(Self.wakeKey) }

    /// Starts a fresh run of a finished ticket (a reopened issue, `/fieldmedic retry`).
    func restart(_ ticket: inout Ticket, reason: String, actor: String) async throws {
        let now = clock.now()
        try await store.releaseLocks(ticket: ticket.id)
        ticket.run += 1
        ticket.step = 0
        ticket.state = .received
        ticket.plan = nil
        ticket.approval = nil
        ticket.pending = nil
        ticket.targets = []
        ticket.reason = nil
        ticket.verdict = nil
        ticket.nextSteps = []
        ticket.waitNote = nil
        ticket.waitedFor = nil
        ticket.lockReleasedBy = nil
        ticket.rediagnoses = nil
        ticket.closedAt = nil
        ticket.resolvedAt = nil
        ticket.dueAt = now
        ticket.github.dirty = true
        ticket.updatedAt = now
        ticket.note("Run \(ticket.run) started: \(reason).", at: now)
        try await store.saveTicket(ticket, audit: AuditEntry(at: now, actor: actor, action: "ticket.restarted", subject: ticket.subjectName,
                                                             details: ["run": String(ticket.run), "reason": reason]))
        await wake()
    }

    // MARK: Advancing

    /// Moves the ticket as far as it can go now; returns it as saved.
    func advance(_ start: Ticket) async throws -> Ticket {
        var ticket = start
        for _ in 0..<20 {
            let before = ticket
            var audit: AuditEntry?
            try await processRequests(&ticket)
            if !ticket.state.isTerminal {
                audit = try await step(&ticket)
            }
            if ticket == before { return ticket }
            if ticket.state.isTerminal && !before.state.isTerminal {
                // Frozen at the end of the run, so the report is not edited as the log grows.
                ticket.auditAnchor = try store.auditHead()?.description
            }
            ticket.updatedAt = clock.now()
            ticket.github.dirty = true
            try await store.saveTicket(ticket, audit: audit)
            if ticket.state.isTerminal && !before.state.isTerminal { try await store.releaseLocks(ticket: ticket.id) }
            if audit == nil && ticket.state == before.state && ticket.pending == before.pending { return ticket }
        }
        return ticket
    }

    /// One transition; the audit entry describes it (nil when only notes changed).
    private func step(_ t: inout Ticket) async throws -> AuditEntry? {
        let now = clock.now()
        switch t.state {
        case .received:
            guard let host = try await resolveHost(&t) else { return nil }
            t.host = host
            try await send(&t, purpose: .diagnose, kind: ActionKind.diagnose.rawValue, params: [:], tag: "diagnose")
            return transition(&t, to: .diagnosing, "Diagnosing \(host).", details: ["host": host])

        case .diagnosing:
            guard let record = try await awaitPending(&t) else { return timeoutAudit(&t) }
            t.pending = nil
            guard record.state == .succeeded, let diagnosis = record.result?.diagnosis else {
                return escalate(&t, "The diagnosis on \(t.host ?? "?") did not complete: \(record.state.rawValue) — \(record.result?.message ?? "no answer").")
            }
            if t.baseline == nil { t.baseline = diagnosis }
            t.latest = diagnosis
            var findings = Self.actionable(diagnosis.findings)
            if t.source == .alert {
                // An alert is answered by the host's own finding of its code (a mapped alert) or
                // by whatever the host finds wrong (a generic one): never by the alert's word alone.
                findings = AlertMapping.explaining(t.seeds ?? [], in: findings)
            } else if let seeds = t.seeds, !seeds.isEmpty {
                // A proactive ticket is about its own finding only. One the agent reports must
                // still be there; a prediction (the coordinator's own) stands as predicted.
                let present = Set(findings.map { "\($0.code)|\($0.subject)" })
                findings = seeds.filter { Self.coordinatorCodes.contains($0.code) || present.contains("\($0.code)|\($0.subject)") }
            }
            let unchecked = diagnosis.notChecked
            t.note("Diagnosis: " + (findings.isEmpty ? "no findings." : findings.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ") + ".")
                + (unchecked.isEmpty ? "" : " Not checked: " + unchecked.map(\.name).joined(separator: ", ") + "."), at: now)
            if findings.isEmpty {
                let notCheckedText = unchecked.map(\.notCheckedText).joined(separator: "; ")
                let checked = diagnosis.probes.filter { $0.error == nil }.map(\.name)
                switch (t.source, t.intent) {
                case (.github, .status), (.operator, .status), (.github, .checklist), (.operator, .checklist):
                    guard unchecked.isEmpty else {
                        // A probe that could not look is not a pass: never "healthy" on half a look.
                        t.nextSteps = unchecked.map { "Let the \($0.name) probe look: " + ($0.fix ?? "read the agent's log (`journalctl -u fieldmedic-agent`)") + "." }
                        return escalate(&t, "Not everything could be checked on \(t.host ?? "the host"): \(notCheckedText). "
                            + "What was checked (\(checked.joined(separator: ", "))) passed, so FieldMedic cannot call it healthy.")
                    }
                    t.verdict = "Healthy: every probe on \(t.host ?? "the host") looked and passed (\(checked.joined(separator: ", ")))."
                        + (t.intent == .checklist ? " This is a standing checklist: the issue stays open for the next check." : "")
                    return transition(&t, to: .healthy, "Healthy.", details: [:])
                case (.finding, _), (.prediction, _):
                    t.verdict = "The finding cleared before any fix was needed."
                        + (unchecked.isEmpty ? "" : " Not checked this time: \(notCheckedText).")
                    return transition(&t, to: .resolved, "Cleared by itself.", details: [:])
                case (.alert, _):
                    let alerts = t.alerts ?? []
                    // Verified only on a whole look: a probe that could not look is no pass.
                    if !alerts.isEmpty && alerts.allSatisfy({ !$0.firing }) && unchecked.isEmpty {
                        t.verdict = "The alert resolved and FieldMedic's own diagnosis of \(t.host ?? "the host") finds nothing wrong (\(checked.joined(separator: ", "))): verified."
                        return transition(&t, to: .resolved, "Alert resolved; verified on the host.", details: [:])
                    }
                    if let other = t.lockReleasedBy ?? t.waitedFor, let fixer = try await store.ticket(id: other), fixer.state == .resolved {
                        t.verdict = "Resolved by \(fixer.reference), which fixed the same fault; verified."
                        return transition(&t, to: .resolved, "Fixed by ticket \(other).", details: ["by": String(other)])
                    }
                    t.nextSteps = AlertMapping.nextSteps(t) + unchecked.map { "Not checked — \($0.notCheckedText)." }
                    return escalate(&t, "\(alerts.first?.source.display ?? "An alert") reports " + alerts.filter(\.firing).map(\.name).joined(separator: ", ")
                        + " on \(t.host ?? "the host"), but FieldMedic's diagnosis finds nothing that explains it (checked \(checked.joined(separator: ", "))). "
                        + "When the alert resolves, FieldMedic checks the host again and closes this ticket.")
                default:
                    if let other = t.lockReleasedBy ?? t.waitedFor, let fixer = try await store.ticket(id: other), fixer.state == .resolved {
                        t.verdict = "Resolved by \(fixer.reference), which fixed the same fault (\(fixer.actions.filter { !$0.dryRun }.map(\.summary).joined(separator: ", "))); verified."
                        return transition(&t, to: .resolved, "Fixed by ticket \(other).", details: ["by": String(other)])
                    }
                    t.nextSteps = ["No finding explains what was reported. FieldMedic checked \(checked.joined(separator: ", ")) on \(t.host ?? "the host") and found nothing wrong; "
                        + "a person should look (what exactly fails, for whom, since when)."]
                        + unchecked.map { "Not checked — \($0.notCheckedText)." }
                        + (IntentClassifier.mentionsAccountQuota(title: t.title, body: t.body)
                            ? ["\"Storage\", \"space\" or \"quota\" here most likely means the user's QFieldCloud account quota (Django admin → Subscriptions / Plans), not the server's disk."] : [])
                    return escalate(&t, "Problem reported, but no finding on the host explains it" + (unchecked.isEmpty ? "" : " (and \(notCheckedText))") + ": this needs a person.")
                }
            }
            t.targets = findings
            let (plan, _) = config.playbook.plan(for: findings)
            t.plan = plan
            t.step = 0
            return transition(&t, to: .planned, "Plan \(plan.shortHash): " + (plan.steps.isEmpty ? "no automatic fix." : plan.steps.map(\.summary).joined(separator: " → ")),
                              details: ["plan": plan.hash])

        case .planned:
            guard let plan = t.plan, let host = t.host else { return escalate(&t, "Internal: planned without a plan.") }
            guard t.step < plan.steps.count else {
                t.nextSteps = plan.manual.isEmpty ? Playbook.genericManual : plan.manual
                if plan.steps.isEmpty { return escalate(&t, "No automatic fix for " + t.targets.map(\.code).joined(separator: ", ") + ".") }
                return escalate(&t, "The fixes ran but " + remaining(t).map { "\($0.code) on \($0.subject)" }.joined(separator: ", ") + " remains.")
            }
            let step = plan.steps[t.step]
            if config.mode == .observe {
                t.nextSteps = ["FieldMedic runs in observe mode: it would run " + plan.steps.map(\.summary).joined(separator: " → ") + "."] + plan.manual
                return escalate(&t, "Observe mode: the fix was planned, not run.")
            }
            if step.policy == .never {
                t.nextSteps = plan.manual
                return escalate(&t, "The playbook says never fix \(step.finding) automatically.")
            }
            let needsApproval = config.mode == .propose || step.policy == .approve
            if needsApproval && t.approval?.approvedBy == nil || needsApproval && t.approval?.planHash != plan.hash {
                t.approval = Approval(planHash: plan.hash, requestedAt: now)
                t.dueAt = now.addingTimeInterval(config.guardrails.approvalTimeout)
                return transition(&t, to: .awaitingApproval, "Waiting for approval of plan \(plan.shortHash).", details: ["plan": plan.hash])
            }
            if let hold = try await holdReason(host: host) {
                if t.waitNote != hold { t.note(hold, at: now); t.waitNote = hold }
                t.dueAt = now.addingTimeInterval(15)
                return nil
            }
            for target in t.targets where target.code == step.finding {
                let holder = try await store.acquireLock("\(host)|\(target.code)|\(target.subject)", ticket: t.id, at: now)
                if holder != t.id {
                    let note = "Waiting: ticket \(holder) is fixing \(target.code) on \(target.subject)."
                    if t.waitNote != note { t.note(note, at: now); t.waitNote = note }
                    t.waitedFor = holder
                    t.dueAt = now.addingTimeInterval(10)
                    return nil
                }
            }
            if let other = t.waitedFor {
                // The other ticket is done with this fault: look again before acting on a
                // diagnosis that is now stale (never fix twice what it already fixed). A fresh
                // diagnosis from the agent (a new command id: one round trip), never a replay of
                // an old answer; and only twice a run, so a ticket cannot go round for ever.
                t.waitNote = nil
                t.waitedFor = nil
                t.lockReleasedBy = other
                let count = (t.rediagnoses ?? 0) + 1
                t.rediagnoses = count
                if count > Self.maxRediagnoses {
                    try await store.releaseLocks(ticket: t.id)
                    t.nextSteps = plan.manual
                    return escalate(&t, "No progress: this ticket waited for another's fix \(count - 1) times and the same plan came back each time; a person should look.")
                }
                try await send(&t, purpose: .diagnose, kind: ActionKind.diagnose.rawValue, params: [:], tag: "rediagnose-\(count)")
                return transition(&t, to: .diagnosing, "Ticket \(other) released the lock; asking \(host) for a fresh diagnosis.", details: ["after": String(other)])
            }
            if let spent = try await budgetSpent(host: host, action: step.action, now: now) {
                t.nextSteps = plan.manual
                return escalate(&t, spent)
            }
            t.waitNote = nil
            try await send(&t, purpose: .fix, kind: step.action, params: step.params, tag: "step-\(t.step)")
            return transition(&t, to: .fixing, "Running \(step.summary).", details: ["action": step.action, "step": String(t.step)])

        case .awaitingApproval:
            guard let plan = t.plan, let approval = t.approval else { return escalate(&t, "Internal: awaiting approval without a plan.") }
            if let denier = approval.deniedBy {
                t.nextSteps = plan.manual
                return escalate(&t, "@\(denier) denied plan \(plan.shortHash).")
            }
            if approval.approvedBy != nil && approval.planHash == plan.hash {
                return transition(&t, to: .planned, "Approved by @\(approval.approvedBy!).", details: ["plan": plan.hash, "by": approval.approvedBy!])
            }
            if now.timeIntervalSince(approval.requestedAt) >= config.guardrails.approvalTimeout {
                t.nextSteps = ["Nobody approved plan \(plan.shortHash) within \(DurationText.human(config.guardrails.approvalTimeout)); run it by hand or comment `/fieldmedic retry`."] + plan.manual
                return escalate(&t, "Approval timed out.")
            }
            t.dueAt = approval.requestedAt.addingTimeInterval(config.guardrails.approvalTimeout)
            return nil

        case .fixing:
            guard let record = try await awaitPending(&t) else { return timeoutAudit(&t) }
            t.pending = nil
            let step = t.plan!.steps[t.step]
            let outcome = record.result?.action
            t.actions.append(ActionRecord(
                step: t.step, action: step.action, summary: step.summary, commandID: record.id, status: record.state.rawValue,
                verified: outcome?.verified, dryRun: false, message: Redactor.redact(record.result?.message ?? ""),
                durationSeconds: outcome?.durationSeconds, before: outcome?.before ?? [:], after: outcome?.after ?? [:],
                plan: outcome?.plan ?? [], finishedAt: record.finishedAt ?? now))
            CoordinatorMetrics.shared.fix(action: step.action, result: record.state != .succeeded ? "failed" : (outcome?.verified == true ? "verified" : "unverified"))
            guard record.state == .succeeded else {
                t.nextSteps = t.plan!.manual
                return escalate(&t, "\(step.summary) \(record.state.rawValue) on \(t.host ?? "?"): \(Redactor.redact(record.result?.message ?? "no message")).")
            }
            try await send(&t, purpose: .verify, kind: ActionKind.diagnose.rawValue, params: [:], tag: "verify-\(t.step)")
            return transition(&t, to: .verifying, "\(step.summary) done (verified: \(outcome?.verified.map(String.init) ?? "n/a")); checking again.",
                              details: ["action": step.action, "verified": outcome?.verified.map(String.init) ?? "n/a"])

        case .verifying:
            guard let record = try await awaitPending(&t) else { return timeoutAudit(&t) }
            t.pending = nil
            guard record.state == .succeeded, let diagnosis = record.result?.diagnosis else {
                return escalate(&t, "The check after the fix did not complete: \(record.result?.message ?? record.state.rawValue).")
            }
            t.latest = diagnosis
            let left = remaining(t)
            let lastVerified = t.actions.last?.verified != false
            if left.isEmpty && lastVerified {
                let (_, escalateAfter) = config.playbook.plan(for: t.targets)
                let diskFixed = t.targets.filter { Self.hostDiskCodes.contains($0.code) }
                if t.source == .github || t.source == .operator, t.intent != .status, !diskFixed.isEmpty,
                   IntentClassifier.mentionsAccountQuota(title: t.title, body: t.body) {
                    // A user's "storage", "space" or "quota" is their QFieldCloud account quota:
                    // a full host disk does not explain it, so the fix does not close the report.
                    t.nextSteps = ["Check the user's account quota and plan in QFieldCloud's admin (Django admin → Subscriptions / Plans); "
                        + "the account's storage quota is not the server's disk."]
                    return escalate(&t, "Fixed " + diskFixed.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ")
                        + " on the host (" + t.actions.filter { !$0.dryRun && $0.status == "succeeded" }.map(\.summary).joined(separator: ", ")
                        + "), but that is the server's disk: what the report describes sounds like the account's storage quota, which no host finding explains.")
                }
                if escalateAfter {
                    t.nextSteps = t.plan?.manual ?? []
                    return escalate(&t, "Fixed for now (" + t.actions.map(\.summary).joined(separator: ", ") + "), but it will come back: " + Self.numbers(t.targets))
                }
                t.verdict = "Resolved: " + t.actions.filter { $0.status == "succeeded" }.map(\.summary).joined(separator: ", ") + " fixed " +
                    t.targets.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ") + "; verified."
                try await store.releaseLocks(ticket: t.id)
                CoordinatorMetrics.shared.verifiedFix(after: now.timeIntervalSince(t.createdAt))
                return transition(&t, to: .resolved, "Verified: the findings are gone.", details: [:])
            }
            t.note("Still present: " + left.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ") + ".", at: now)
            // The next step that is for something still present; steps for what is gone are skipped.
            let stillThere = Set(left.map { "\($0.code)|\($0.subject)" })
            let steps = t.plan?.steps ?? []
            var next = t.step + 1
            while next < steps.count && !stillThere.contains("\(steps[next].finding)|\(steps[next].subject)") { next += 1 }
            t.step = next
            if next >= steps.count {
                t.nextSteps = t.plan?.manual ?? []
                let fixed = t.actions.filter { !$0.dryRun && $0.status == "succeeded" }.map(\.summary)
                return escalate(&t, (fixed.isEmpty ? "" : "Fixed what could be fixed (" + fixed.joined(separator: ", ") + "), but ")
                    + left.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ") + " remains and has no automatic fix.")
            }
            return transition(&t, to: .planned, "Next step.", details: ["step": String(t.step)])

        case .resolved, .escalated, .healthy:
            return nil
        }
    }

    // MARK: Requests (`/fieldmedic diagnose`, `/fieldmedic dry-run`)

    private func processRequests(_ t: inout Ticket) async throws {
        guard !t.requests.isEmpty, let host = t.host else {
            if !t.requests.isEmpty && t.host == nil, t.state.isTerminal { t.requests = [] }
            return
        }
        var request = t.requests[0]
        let now = clock.now()
        let index = t.timeline.count
        if request.commandIDs.isEmpty {
            switch request.kind {
            case .diagnose:
                request.commandIDs = [try await queue(t, kind: ActionKind.diagnose.rawValue, params: [:], dryRun: false, tag: "adhoc-\(index)-diagnose", host: host)]
            case .dryRun:
                guard let plan = t.plan ?? t.latest.map({ config.playbook.plan(for: Self.actionable($0.findings)).plan }), !plan.steps.isEmpty else {
                    t.note("Dry run asked by @\(request.requestedBy): there is no fix to try.", at: now)
                    t.requests.removeFirst()
                    return
                }
                var ids: [String] = []
                for (i, step) in plan.steps.enumerated() {
                    ids.append(try await queue(t, kind: step.action, params: step.params, dryRun: true, tag: "adhoc-\(index)-dry-\(i)", host: host))
                }
                request.commandIDs = ids
            }
            t.requests[0] = request
            t.note("\(request.kind == .diagnose ? "Diagnosis" : "Dry run") asked by @\(request.requestedBy).", at: now)
            return
        }
        var records: [CommandRecord] = []
        for id in request.commandIDs {
            guard let record = try await store.command(id: id), record.state.isFinished else {
                if now.timeIntervalSince(request.at) > config.guardrails.commandTimeout {
                    t.note("The \(request.kind.rawValue) asked by @\(request.requestedBy) got no answer from \(host).", at: now)
                    t.requests.removeFirst()
                } else {
                    t.dueAt = min(t.dueAt ?? .distantFuture, request.at.addingTimeInterval(config.guardrails.commandTimeout))
                }
                return
            }
            records.append(record)
        }
        switch request.kind {
        case .diagnose:
            if let diagnosis = records.first?.result?.diagnosis {
                t.latest = diagnosis
                let findings = Self.actionable(diagnosis.findings)
                t.note("Diagnosis on request: " + (findings.isEmpty ? "no findings." : findings.map { "\($0.code) on \($0.subject)" }.joined(separator: ", ")), at: now)
            } else {
                t.note("Diagnosis on request failed: \(records.first?.result?.message ?? "no answer").", at: now)
            }
        case .dryRun:
            for (i, record) in records.enumerated() {
                let outcome = record.result?.action
                t.actions.append(ActionRecord(
                    step: i, action: record.kind, summary: "dry run of \(record.kind)", commandID: record.id, status: record.state.rawValue,
                    verified: nil, dryRun: true, message: Redactor.redact(record.result?.message ?? ""), durationSeconds: outcome?.durationSeconds,
                    before: outcome?.before ?? [:], after: [:], plan: outcome?.plan ?? [], finishedAt: record.finishedAt ?? now))
            }
            t.note("Dry run finished: " + records.map { "\($0.kind): \($0.state.rawValue)" }.joined(separator: ", ") + ".", at: now)
        }
        t.requests.removeFirst()
    }

    // MARK: Comments

    /// A `/fieldmedic` command from a comment. Returns the short reply to post, if any.
    /// `trusted`: from the operator API (loopback + operator token), not from a GitHub comment.
    /// `levels`: GitHub permission levels looked up before the ticket mutex was taken
    /// (`permissionLevels(for:)`), so that no GitHub call runs inside it.
    func handle(_ command: ChatCommand, on ticket: inout Ticket, author: String, trusted: Bool = false,
                levels: [String: String] = [:]) async throws -> String? {
        let now = clock.now()
        func refuse(_ reply: String, _ reason: String) async throws -> String {
            try await store.appendAudit(AuditEntry(at: now, actor: actor, action: "ticket.command_refused", subject: ticket.subjectName,
                                                   details: ["command": command.verb.rawValue, "reason": reason]))
            return reply
        }
        let actor = trusted ? author : "github:\(author)"
        switch trusted ? .allowed : try await mayCommand(author, level: levels[author.lowercased()]) {
        case .allowed: break
        case .gateMisconfigured:
            return try await refuse("@\(author): no approvers are configured (`[github] approvers`), so FieldMedic accepts no commands here. The gate stays closed.",
                                    "no approvers configured")
        case .notApprover:
            return try await refuse("@\(author): only the configured approvers may give FieldMedic commands.", "not an approver")
        }
        var audit = AuditEntry(at: now, actor: actor, action: "ticket.command", subject: ticket.subjectName,
                               details: ["command": command.verb.rawValue, "argument": command.argument ?? ""])
        switch command.verb {
        case .approve, .deny:
            guard ticket.state == .awaitingApproval, let plan = ticket.plan, var approval = ticket.approval, approval.planHash == plan.hash else {
                return try await refuse("@\(author): there is no plan waiting for approval on this issue.", "nothing to approve")
            }
            // An approval names the plan it approves (the hash shown in the request), so it can
            // never apply to a plan the approver did not read. A denial needs no hash.
            if command.verb == .approve || command.argument != nil {
                guard let argument = command.argument?.lowercased(), argument.count >= 7, plan.hash.hasPrefix(argument) else {
                    let named = command.argument.map { "`\($0)` is not the current plan (\(plan.shortHash)); the plan may have changed." }
                        ?? "an approval must name the plan it approves."
                    return try await refuse("@\(author): \(named) Read it and answer `/fieldmedic \(command.verb.rawValue) \(plan.shortHash)`.",
                                            command.argument == nil ? "plan hash missing" : "plan hash mismatch")
                }
            }
            if command.verb == .approve {
                approval.approvedBy = author
                approval.approvedAt = now
                audit.action = "ticket.approved"
            } else {
                approval.deniedBy = author
                audit.action = "ticket.denied"
            }
            audit.details["plan"] = plan.hash
            ticket.approval = approval
            ticket.note("\(command.verb == .approve ? "Approved" : "Denied") by @\(author) (plan \(plan.shortHash)).", at: now)
            ticket.dueAt = now
        case .diagnose, .dryRun:
            guard ticket.host != nil else { return try await refuse("@\(author): which host? Add a `host:NAME` label first.", "no host") }
            ticket.requests.append(AdhocRequest(kind: command.verb == .diagnose ? .diagnose : .dryRun, requestedBy: author, at: now, commandIDs: []))
            ticket.dueAt = now
        case .retry:
            guard ticket.state.isTerminal else {
                return try await refuse("@\(author): this ticket is still running (\(ticket.state.rawValue)); retry once it has finished.", "still running")
            }
            try await store.appendAudit(audit)
            try await restart(&ticket, reason: "`/fieldmedic retry` by @\(author)", actor: actor)
            return nil
        }
        ticket.github.dirty = true
        ticket.updatedAt = now
        try await store.saveTicket(ticket, audit: audit)
        await wake()
        return nil
    }

    enum Permission { case allowed, notApprover, gateMisconfigured }

    func mayCommand(_ login: String, level known: String? = nil) async throws -> Permission {
        let approvers = config.github?.approvers ?? []
        let byPermission = config.github?.approveWithWritePermission ?? false
        if approvers.isEmpty && !byPermission { return .gateMisconfigured }
        if approvers.contains(where: { $0.caseInsensitiveCompare(login) == .orderedSame }) { return .allowed }
        if byPermission {
            var level = known
            if level == nil, let permission { level = (try? await permission(login)) ?? "none" }
            if ["admin", "maintain", "write"].contains(level ?? "none") { return .allowed }
        }
        return .notApprover
    }

    /// The permission levels of the authors of `/fieldmedic` commands that are not approvers,
    /// when write permission is enough: asked of GitHub *before* the ticket mutex is taken.
    func permissionLevels(for comments: [GitHubComment]) async -> [String: String] {
        guard config.github?.approveWithWritePermission == true, let permission else { return [:] }
        let approvers = Set((config.github?.approvers ?? []).map { $0.lowercased() })
        var levels: [String: String] = [:]
        for comment in comments where ChatCommand.parse(comment.body) != nil {
            let login = comment.author.lowercased()
            guard !approvers.contains(login), levels[login] == nil else { continue }
            levels[login] = (try? await permission(comment.author)) ?? "none"
        }
        return levels
    }

    // MARK: Guardrails

    /// Why fixes may not run now (pause or circuit breaker), or nil.
    func holdReason(host: String) async throws -> String? {
        let controls = try await store.controls(prefix: "pause")
        if let why = controls["pause"] { return "Paused fleet-wide (\(why)); fixes wait for `fieldmedic-coordinator resume`." }
        if let why = controls["pause:\(host)"] { return "Paused on \(host) (\(why)); fixes wait for `fieldmedic-coordinator resume --host \(host)`." }
        if let why = try await store.control("breaker") { return "The fleet circuit breaker is open (\(why)); fixes wait for `fieldmedic-coordinator resume`." }
        let now = clock.now()
        let since = now.addingTimeInterval(-config.guardrails.breakerWindow)
        let failed = try await store.commands(requestedByPrefix: "ticket:", since: since).filter { record in
            record.kind != ActionKind.diagnose.rawValue && !record.dryRun &&
                ([.failed, .interrupted].contains(record.state) || (record.state == .succeeded && record.result?.action?.verified == false))
        }
        if failed.count >= config.guardrails.breakerFailures {
            let why = "\(failed.count) failed fixes in the last \(DurationText.human(config.guardrails.breakerWindow))"
            try await store.setControl("breaker", value: why, at: now, audit: AuditEntry(
                at: now, actor: Self.actor, action: "breaker.opened", subject: "fleet", details: ["failed": String(failed.count)]))
            logger.warning("fleet circuit breaker opened: automatic fixes stop", metadata: ["failed": "\(failed.count)"])
            return "The fleet circuit breaker opened (\(why)); fixes wait for `fieldmedic-coordinator resume`."
        }
        return nil
    }

    func budgetSpent(host: String, action: String, now: Date) async throws -> String? {
        let day = try await store.commands(requestedByPrefix: "ticket:", since: now.addingTimeInterval(-86_400))
            .filter { $0.agent == host && $0.kind == action && !$0.dryRun && $0.state != .refused }
        let hour = day.filter { $0.createdAt >= now.addingTimeInterval(-3600) }
        if hour.count >= config.guardrails.budgetPerHour {
            return "Budget spent: \(action) ran \(hour.count) times on \(host) in the last hour (limit \(config.guardrails.budgetPerHour)); this keeps coming back and needs a person."
        }
        if day.count >= config.guardrails.budgetPerDay {
            return "Budget spent: \(action) ran \(day.count) times on \(host) in the last day (limit \(config.guardrails.budgetPerDay)); this keeps coming back and needs a person."
        }
        return nil
    }

    // MARK: Helpers

    /// Findings about the host's own disks (never the explanation of a user's account quota).
    static let hostDiskCodes: Set<String> = [FindingCode.diskHigh, .diskInodesHigh, .diskFullPredicted].reduce(into: []) { $0.insert($1.rawValue) }

    /// Fresh diagnoses after lock waits that one run may ask for before it escalates.
    static let maxRediagnoses = 2

    /// Findings only the coordinator raises (from trends and silence), never in a diagnosis.
    static let coordinatorCodes: Set<String> = Set(FindingCode.allCases.filter { $0.origin == .coordinator }.map(\.rawValue))

    /// Findings worth a ticket: warnings and worse.
    static func actionable(_ findings: [Finding]) -> [Finding] {
        findings.filter { $0.severity >= .warning }
    }

    private func remaining(_ t: Ticket) -> [Finding] {
        let now = Set(Self.actionable(t.latest?.findings ?? []).map { "\($0.code)|\($0.subject)" })
        return t.targets.filter { now.contains("\($0.code)|\($0.subject)") }
    }

    static func numbers(_ findings: [Finding]) -> String {
        findings.map { f in
            f.message + (f.evidence.isEmpty ? "" : " (" + f.evidence.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")")
        }.joined(separator: "; ")
    }

    private func resolveHost(_ t: inout Ticket) async throws -> String? {
        if let host = t.host { return host }
        let hosts = try await store.agents().filter { $0.state == .active }.map(\.name)
        let now = clock.now()
        switch HostResolver.resolve(labels: t.labels, body: t.body, hosts: hosts) {
        case .host(let name):
            return name
        case .ambiguous(let names):
            let question = "Which host is this about? Add a label `host:NAME` (or a line `host: NAME` to the issue). Known hosts: " +
                names.map { "`\($0)`" }.joined(separator: ", ") + "."
            if t.waitNote != question {
                t.waitNote = question
                t.github.replies.append(question)
                t.note("Asked which host (candidates: \(names.joined(separator: ", "))).", at: now)
            }
            t.dueAt = nil
            return nil
        case .unknown(let name, let known):
            let question = "There is no enrolled host named `\(name)`. Known hosts: " + (known.isEmpty ? "none" : known.map { "`\($0)`" }.joined(separator: ", ")) + "."
            if t.waitNote != question {
                t.waitNote = question
                t.github.replies.append(question)
                t.note("Host `\(name)` is not enrolled.", at: now)
            }
            t.dueAt = nil
            return nil
        case .noHosts:
            let note = "No host is enrolled yet; waiting for one (`fieldmedic-coordinator agents add NAME`)."
            if t.waitNote != note { t.waitNote = note; t.note(note, at: now) }
            t.dueAt = now.addingTimeInterval(60)
            return nil
        }
    }

    private func send(_ t: inout Ticket, purpose: PendingCommand.Purpose, kind: String, params: [String: String], tag: String) async throws {
        let id = try await queue(t, kind: kind, params: params, dryRun: false, tag: tag, host: t.host!)
        t.pending = PendingCommand(id: id, purpose: purpose, kind: kind, queuedAt: clock.now())
        t.dueAt = clock.now().addingTimeInterval(config.guardrails.commandTimeout)
    }

    /// Queues once: the id is derived from ticket, run and tag.
    private func queue(_ t: Ticket, kind: String, params: [String: String], dryRun: Bool, tag: String, host: String) async throws -> String {
        let id = CommandID.make("ticket", String(t.id), String(t.run), tag)
        let now = clock.now()
        let record = CommandRecord(id: id, agent: host, kind: kind, params: params, dryRun: dryRun, state: .queued,
                                   requestedBy: t.subjectName, createdAt: now)
        let (_, created) = try await store.enqueueCommandOnce(
            record,
            audit: AuditEntry(at: now, actor: t.subjectName, action: "command.queued", subject: host,
                              details: ["command": id, "kind": kind, "dry_run": String(dryRun)].merging(params) { a, _ in a }))
        if created { await fleet.notifier.notify(FleetService.queueKey(host)) }
        return id
    }

    /// The pending command once finished; nil while it runs (dueAt set) or when it timed out
    /// (the ticket is then escalated by `timeoutAudit`).
    private func awaitPending(_ t: inout Ticket) async throws -> CommandRecord? {
        guard let pending = t.pending, let host = t.host else { return nil }
        guard let record = try await store.command(id: pending.id) else {
            // Decided but never stored (crash in between): queue it now, same id.
            let tag = pending.purpose == .diagnose ? "diagnose" : (pending.purpose == .fix ? "step-\(t.step)" : "verify-\(t.step)")
            _ = try await queue(t, kind: pending.kind, params: pending.purpose == .fix ? (t.plan?.steps[t.step].params ?? [:]) : [:], dryRun: false, tag: tag, host: host)
            return nil
        }
        if record.state.isFinished { return record }
        let deadline = pending.queuedAt.addingTimeInterval(config.guardrails.commandTimeout)
        if clock.now() >= deadline {
            t.reason = "\(host) did not answer \(pending.kind) within \(DurationText.human(config.guardrails.commandTimeout)) (command \(record.state.rawValue)); is the agent running?"
            return nil
        }
        t.dueAt = deadline
        return nil
    }

    private func timeoutAudit(_ t: inout Ticket) -> AuditEntry? {
        guard let reason = t.reason, t.pending != nil else { return nil }
        t.pending = nil
        t.nextSteps = ["Check the agent: `systemctl status fieldmedic-agent` and `journalctl -u fieldmedic-agent` on \(t.host ?? "the host")."]
        return escalate(&t, reason)
    }

    private func transition(_ t: inout Ticket, to state: TicketState, _ note: String, details: [String: String]) -> AuditEntry {
        let now = clock.now()
        let from = t.state
        t.state = state
        t.note(note, at: now)
        if state == .resolved || state == .healthy { t.close(at: now) }
        if state.isTerminal { t.dueAt = nil; t.waitNote = nil } else if t.pending == nil && state != .awaitingApproval { t.dueAt = now }
        return AuditEntry(at: now, actor: Self.actor, action: "ticket.\(state.rawValue)", subject: t.subjectName,
                          details: details.merging(["from": from.rawValue, "run": String(t.run)]) { a, _ in a })
    }

    private func escalate(_ t: inout Ticket, _ reason: String) -> AuditEntry {
        t.reason = reason
        t.verdict = "Escalated: " + reason
        t.pending = nil
        let entry = transition(&t, to: .escalated, "Escalated: \(reason)", details: ["reason": reason])
        return entry
    }
}
