import Foundation
import Hummingbird
import Logging
import Shared

/// The routes agents call over mutual TLS (DESIGN §3).
struct AgentAPI: Sendable {
    let fleet: FleetService
    let authenticator: AgentAuthenticator
    let maxBodyBytes: Int
    let maxLongPoll: TimeInterval

    func register(on router: Router<AgentRequestContext>) {
        // Public: the CA certificate, which an enrolling agent checks against its token's hash.
        router.get("/v1/ca") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: .init(string: fleet.caPEM)))
        }
        router.post("/v1/enroll") { request, context in
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
        router.post("/v1/health") { request, context in
            let agent = try await authenticator.authenticate(context)
            let batch = try await request.decodeBody(HealthBatch.self, limit: maxBodyBytes)
            do {
                return JSONResponse.make(try await fleet.receive(batch, from: agent.name))
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        router.get("/v1/commands/next") { request, context in
            let agent = try await authenticator.authenticate(context)
            let wait = min(max(request.uri.queryParameters.get("wait", as: Double.self) ?? 0, 0), maxLongPoll)
            let channel = context.channel
            if let command = try await fleet.nextCommand(agent: agent.name, wait: wait, stillConnected: { channel.isActive }) {
                return JSONResponse.make(command)
            }
            return Response(status: .noContent)
        }
        router.post("/v1/commands/{id}/result") { request, context in
            let agent = try await authenticator.authenticate(context)
            let id = try context.parameters.require("id")
            let result = try await request.decodeBody(CommandResult.self, limit: maxBodyBytes)
            do {
                let record = try await fleet.complete(agent: agent.name, commandID: id, result: result)
                return JSONResponse.make(record)
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
        router.post("/v1/renew") { request, context in
            let agent = try await authenticator.authenticate(context)
            let body = try await request.decodeBody(RenewRequest.self, limit: maxBodyBytes)
            do {
                let grant = try await fleet.renew(agent: agent.name, request: body)
                context.logger.info("renewed agent certificate", metadata: ["agent": "\(agent.name)", "serial": "\(grant.serial)"])
                return JSONResponse.make(grant)
            } catch let error as FleetError {
                throw APIError(error)
            }
        }
    }
}
