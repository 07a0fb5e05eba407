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
        let controls = FleetControls(engine: engine)
        group.post("/pause") { request, _ in
            let body = try await OperatorAPI.decode(PauseRequest.self, request)
            do { try await controls.pause(host: body.host, reason: body.reason, actor: OperatorAPI.actor(request)) } catch let error as FleetError { throw APIError(error) }
            return JSONResponse.make(PauseState(controls: try await controls.controls()))
        }
        group.post("/resume") { request, _ in
            let body = try await OperatorAPI.decode(PauseRequest.self, request)
            do { try await controls.resume(host: body.host, actor: OperatorAPI.actor(request)) } catch let error as FleetError { throw APIError(error) }
            return JSONResponse.make(PauseState(controls: try await controls.controls()))
        }
        group.get("/pause") { _, _ in JSONResponse.make(PauseState(controls: try await controls.controls())) }
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
            guard body.seconds > 0, body.seconds <= FleetControls.longestSilence else { throw APIError(.badRequest, "malformed", "--for must be between 1s and 366d") }
            let silence = try await controls.silence(host: body.host, finding: body.finding, seconds: body.seconds, reason: body.reason, actor: OperatorAPI.actor(request))
            return JSONResponse.make(silence, status: .created)
        }
        group.post("/silences/{id}/end") { request, context in
            let text = try context.parameters.require("id")
            guard let id = Int64(text) else { throw APIError(.badRequest, "malformed", "silence id must be a number") }
            guard try await controls.endSilence(id: id, actor: OperatorAPI.actor(request)) else { throw APIError(.notFound, "not_found", "no active silence \(id)") }
            return JSONResponse.make(SilencesResponse(silences: try await store.silences(activeAt: engine.clock.now())))
        }
    }

    static func ticket(_ context: BasicRequestContext, _ store: any FullStore) async throws -> Ticket {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), let ticket = try await store.ticket(id: id) else {
            throw APIError(.notFound, "not_found", "no ticket \(text)")
        }
        return ticket
    }
}
