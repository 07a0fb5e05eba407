import Foundation
import Hummingbird
import Shared

/// Tickets, pause/resume and stats on the operator API (behind the same bearer token).
struct TicketOperatorAPI: OperatorRoutes {
    let engine: TicketEngine
    let mode: RolloutMode
    let mentions: [String]
    let predict: PredictConfig

    func register(on group: RouterGroup<BasicRequestContext>) {
        let store = engine.store
        group.get("/tickets") { request, _ in
            let all = request.uri.queryParameters.get("all") == "1"
            let tickets = all ? try await store.allTickets() : try await store.openTickets()
            let playbook = engine.config.playbook
            return JSONResponse.make(tickets.map { TicketSummary($0, playbook: playbook) })
        }
        group.post("/tickets") { request, _ in
            let body = try await OperatorAPI.decode(OpenTicketRequest.self, request)
            guard !body.title.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw APIError(.badRequest, "malformed", "a ticket needs a title")
            }
            let now = engine.clock.now()
            var ticket = Ticket(source: .operator, title: body.title, body: body.body, author: OperatorAPI.actor(request), now: now)
            if let host = body.host {
                guard try await store.agent(named: host) != nil else { throw APIError(FleetError.unknownAgent(host)) }
                ticket.labels = ["host:\(host)"]
            }
            let (stored, _) = try await engine.mutex.run { try await engine.open(ticket, via: OperatorAPI.actor(request)) }
            return JSONResponse.make(TicketSummary(stored, playbook: engine.config.playbook), status: .created)
        }
        group.get("/tickets/{id}") { _, context in
            let ticket = try await Self.ticket(context, store)
            return JSONResponse.make(TicketDetail(ticket: ticket, report: TicketReport.render(ticket, mode: mode, mentions: mentions, playbook: engine.config.playbook)))
        }
        group.post("/tickets/{id}/command") { request, context in
            let body = try await OperatorAPI.decode(TicketCommandRequest.self, request)
            guard let verb = ChatCommand.Verb(rawValue: body.verb) else {
                throw APIError(.badRequest, "malformed", "verb must be one of " + ChatCommand.Verb.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let (reply, fresh) = try await engine.mutex.run {
                var ticket = try await Self.ticket(context, store)
                let reply = try await engine.handle(ChatCommand(verb: verb, argument: body.argument), on: &ticket, author: OperatorAPI.actor(request), trusted: true)
                return (reply, try await store.ticket(id: ticket.id) ?? ticket)
            }
            return JSONResponse.make(TicketCommandResponse(ticket: TicketSummary(fresh, playbook: engine.config.playbook), reply: reply))
        }
        group.post("/pause") { request, _ in
            let body = try await OperatorAPI.decode(PauseRequest.self, request)
            let key = try await Self.pauseKey(body.host, store)
            let now = engine.clock.now()
            let why = "by \(OperatorAPI.actor(request)) at \(WireDate.format(now))" + (body.reason.map { ": \(Redactor.redact($0))" } ?? "")
            try await store.setControl(key, value: why, at: now, audit: AuditEntry(
                at: now, actor: OperatorAPI.actor(request), action: "fixes.paused", subject: body.host ?? "fleet", details: ["reason": body.reason ?? ""]))
            await engine.wake()
            return JSONResponse.make(PauseState(controls: try await Self.controls(store)))
        }
        group.post("/resume") { request, _ in
            let body = try await OperatorAPI.decode(PauseRequest.self, request)
            let key = try await Self.pauseKey(body.host, store)
            let now = engine.clock.now()
            let actor = OperatorAPI.actor(request)
            try await store.setControl(key, value: nil, at: now, audit: AuditEntry(at: now, actor: actor, action: "fixes.resumed", subject: body.host ?? "fleet"))
            if body.host == nil, try await store.control("breaker") != nil {
                try await store.setControl("breaker", value: nil, at: now, audit: AuditEntry(at: now, actor: actor, action: "breaker.closed", subject: "fleet"))
            }
            await engine.wake()
            return JSONResponse.make(PauseState(controls: try await Self.controls(store)))
        }
        group.get("/pause") { _, _ in JSONResponse.make(PauseState(controls: try await Self.controls(store))) }
        group.get("/stats") { _, _ in
            JSONResponse.make(StatsResponse(tickets: TicketStats.compute(try await store.allTickets()), samples: try await store.sampleStorage()))
        }
        group.get("/agents/{name}/trends") { _, context in
            let name = try context.parameters.require("name")
            guard try await store.agent(named: name) != nil else { throw APIError(FleetError.unknownAgent(name)) }
            let now = engine.clock.now()
            let window = max(86_400, predict.diskWindow, predict.queueWindow)
            return JSONResponse.make(HostTrends.make(series: try await store.series(agent: name, since: now.addingTimeInterval(-window)), config: predict, now: now))
        }
        group.get("/silences") { request, _ in
            let all = request.uri.queryParameters.get("all") == "1"
            return JSONResponse.make(SilencesResponse(silences: try await store.silences(activeAt: all ? nil : engine.clock.now())))
        }
        group.post("/silences") { request, _ in
            let body = try await OperatorAPI.decode(SilenceRequest.self, request)
            guard try await store.agent(named: body.host) != nil else { throw APIError(FleetError.unknownAgent(body.host)) }
            guard body.seconds > 0, body.seconds <= 366 * 86_400 else { throw APIError(.badRequest, "malformed", "--for must be between 1s and 366d") }
            let now = engine.clock.now()
            let actor = OperatorAPI.actor(request)
            let reason = Redactor.redact(body.reason ?? "")
            let silence = try await store.addSilence(
                SilenceRecord(id: 0, agent: body.host, finding: body.finding, until: now.addingTimeInterval(body.seconds), reason: reason,
                              createdBy: actor, createdAt: now),
                audit: AuditEntry(at: now, actor: actor, action: "silence.created", subject: body.host,
                                  details: ["finding": body.finding ?? "*", "until": WireDate.format(now.addingTimeInterval(body.seconds)), "reason": reason]))
            return JSONResponse.make(silence, status: .created)
        }
        group.post("/silences/{id}/end") { request, context in
            let text = try context.parameters.require("id")
            guard let id = Int64(text) else { throw APIError(.badRequest, "malformed", "silence id must be a number") }
            let now = engine.clock.now()
            let ended = try await store.endSilence(id: id, at: now, audit: AuditEntry(at: now, actor: OperatorAPI.actor(request), action: "silence.ended", subject: "silence:\(id)"))
            guard ended else { throw APIError(.notFound, "not_found", "no active silence \(id)") }
            return JSONResponse.make(SilencesResponse(silences: try await store.silences(activeAt: now)))
        }
    }

    static func ticket(_ context: BasicRequestContext, _ store: any FullStore) async throws -> Ticket {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), let ticket = try await store.ticket(id: id) else {
            throw APIError(.notFound, "not_found", "no ticket \(text)")
        }
        return ticket
    }

    static func pauseKey(_ host: String?, _ store: any FullStore) async throws -> String {
        guard let host else { return "pause" }
        guard try await store.agent(named: host) != nil else { throw APIError(FleetError.unknownAgent(host)) }
        return "pause:\(host)"
    }

    static func controls(_ store: any FullStore) async throws -> [String: String] {
        var all = try await store.controls(prefix: "pause")
        if let breaker = try await store.control("breaker") { all["breaker"] = breaker }
        return all
    }
}
