import Foundation
import Hummingbird
import Logging
import Shared

/// The routes agents call over mutual TLS (DESIGN §3).
///
/// Two groups: `publicRoutes` (the CA certificate, and enrollment, which its join token
/// authorises), and everything else behind `AgentAuthenticationMiddleware`.
struct AgentAPI: Sendable {
    /// The only routes an unauthenticated peer may reach; the route-walk test holds every
    /// other registered route to 401/403 without a client certificate.
    static let publicRoutes: Set<String> = ["GET /v1/ca", "POST /v1/enroll"]

    let fleet: FleetService
    let authenticator: AgentAuthenticator
    let maxBodyBytes: Int
    let maxLongPoll: TimeInterval
    var logger = Logger(label: "fieldmedic.coordinator")

    func makeRouter() -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        // Router-level: wraps every route, whatever the order they are added in.
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        register(on: router)
        return router
    }

    private func register(on router: Router<AgentRequestContext>) {
        let open = router.group()
        // Public: the CA certificate, which an enrolling agent checks against its token's hash.
        open.get("/v1/ca") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: .init(string: fleet.caPEM)))
        }
        open.post("/v1/enroll") { request, context in
            guard await fleet.rejections.allows(peer: context.remoteAddress) else {
                throw APIError(.tooManyRequests, "too_many_refusals", "too many refused enrollments from \(context.remoteAddress); wait a minute")
            }
            let body = try await request.decodeBody(EnrollRequest.self, limit: maxBodyBytes)
            do {
                let grant = try await fleet.enroll(body, peer: context.remoteAddress)
                context.logger.info("enrolled agent", metadata: ["agent": "\(grant.agent)", "serial": "\(grant.serial)"])
                return JSONResponse.make(grant)
            } catch let error as FleetError {
                context.logger.warning("enrollment refused", metadata: ["peer": "\(context.remoteAddress)", "reason": "\(error)"])
                throw APIError(error)
            }
        }
        // Every other route: the group authenticates before the handler runs.
        let agents = router.group().add(middleware: AgentAuthenticationMiddleware(authenticator: authenticator))
        agents.post("/v1/health") { request, context in
            let agent = try context.requireAgent()
            let started = ContinuousClock.now
            do {
                let batch = try await request.decodeBody(HealthBatch.self, limit: maxBodyBytes)
                let receipt = try await fleet.receive(batch, from: agent.name)
                CoordinatorMetrics.shared.reportsStored(accepted: receipt.accepted, duplicates: receipt.duplicates, elapsed: ContinuousClock.now - started)
                return JSONResponse.make(receipt)
            } catch let error as FleetError {
                CoordinatorMetrics.shared.reportRejected(reason: error.code == "bad_request" ? "wrong_agent" : error.code)
                throw APIError(error)
            } catch let error as APIError {
                CoordinatorMetrics.shared.reportRejected(reason: error.code)
                throw error
            }
        }
        agents.get("/v1/commands/next") { request, context in
            let agent = try context.requireAgent()
            let wait = min(max(request.uri.queryParameters.get("wait", as: Double.self) ?? 0, 0), maxLongPoll)
            let channel = context.channel
            if let command = try await fleet.nextCommand(agent: agent.name, wait: wait, stillConnected: { channel.isActive }) {
                return JSONResponse.make(command)
            }
            return Response(status: .noContent)
        }
        agents.post("/v1/commands/{id}/result") { request, context in
            let agent = try context.requireAgent()
            let id = try context.parameters.require("id")
            let result = try await request.decodeBody(CommandResult.self, limit: maxBodyBytes)
            do {
                let record = try await fleet.complete(agent: agent.name, commandID: id, result: result)
                return JSONResponse.make(record)
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        agents.post("/v1/renew") { request, context in
            let agent = try context.requireAgent()
            let body = try await request.decodeBody(RenewRequest.self, limit: maxBodyBytes)
            do {
                let grant = try await fleet.renew(agent: agent, request: body)
                context.logger.info("renewed agent certificate", metadata: ["agent": "\(agent.name)", "serial": "\(grant.serial)"])
                return JSONResponse.make(grant)
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
    }
}
