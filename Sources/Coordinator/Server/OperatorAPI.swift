import Foundation
import HTTPTypes
import Hummingbird
import Shared

/// The local operator API the CLI talks to: loopback by default, bearer token from a 0600
/// file (checked by the group `OperatorRouter.make` registers these routes on).
struct OperatorAPI: OperatorRoutes {
    let fleet: FleetService
    let offlineAfter: TimeInterval

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("/status") { _, _ in
            JSONResponse.make(OperatorStatus(
                version: FieldMedicVersion.current, agents: try await fleet.store.agents().count, caFingerprint: fleet.caFingerprint))
        }
        group.post("/agents") { request, context in
            let body = try await Self.decode(AddAgentRequest.self, request)
            do {
                let (token, expires) = try await fleet.createJoinToken(name: body.name, actor: Self.actor(request))
                return JSONResponse.make(AddAgentResponse(name: body.name, token: token.text, tokenId: token.id, expiresAt: expires))
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        group.get("/agents") { _, _ in
            let now = fleet.clock.now()
            return JSONResponse.make(try await fleet.store.agents().map { AgentSummary($0, now: now, offlineAfter: offlineAfter) })
        }
        group.get("/agents/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard let record = try await fleet.store.agent(named: name) else { throw APIError(FleetError.unknownAgent(name)) }
            let view = HostView(
                agent: AgentSummary(record, now: fleet.clock.now(), offlineAfter: offlineAfter),
                latestReport: try await fleet.store.latestReport(agent: name))
            return JSONResponse.make(view)
        }
        group.get("/agents/{name}/reports") { request, context in
            let name = try context.parameters.require("name")
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 1000, 1), 100_000)
            return JSONResponse.make(try await fleet.store.reportSequences(agent: name, limit: limit))
        }
        group.post("/agents/{name}/revoke") { request, context in
            let name = try context.parameters.require("name")
            do {
                let count = try await fleet.revoke(name: name, actor: Self.actor(request))
                return JSONResponse.make(RevokeResponse(agent: name, revokedCertificates: count))
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        group.post("/agents/{name}/commands") { request, context in
            let name = try context.parameters.require("name")
            let body = try await Self.decode(QueueCommandRequest.self, request)
            do {
                let record = try await fleet.queueCommand(
                    agent: name, kind: body.kind, params: body.params, dryRun: body.dryRun, actor: Self.actor(request))
                return JSONResponse.make(record, status: .accepted)
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        group.get("/commands/{id}") { request, context in
            let id = try context.parameters.require("id")
            let wait = min(max(request.uri.queryParameters.get("wait", as: Double.self) ?? 0, 0), 300)
            do {
                return JSONResponse.make(try await fleet.awaitCommand(id: id, wait: wait))
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
    }

    static func actor(_ request: Request) -> String {
        let user = request.headers[HTTPField.Name("X-FieldMedic-Operator")!] ?? "unknown"
        return "operator:" + String(user.prefix(64).filter { $0.isLetter || $0.isNumber || "._-".contains($0) })
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let data = try await request.collectBody(limit: 1 << 20)
        do {
            return try WireCodec.decodeStored(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError(.badRequest, "malformed", "malformed request: \(WireCodec.describe(error))")
        }
    }
}

/// Refuses every operator request without the right bearer token (compared in constant time).
struct OperatorTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: Secret
    let rejections: RejectionLog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = request.headers[.authorization] ?? ""
        guard presented.hasPrefix("Bearer "), token.matches(String(presented.dropFirst(7))) else {
            await rejections.record(peer: "operator-api", reason: "bad or missing operator token")
            throw APIError(.unauthorized, "unauthorized", "missing or wrong operator token (read from operator.token in data_dir)")
        }
        return try await next(request, context)
    }
}
