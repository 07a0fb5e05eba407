import Foundation
import Shared

/// The CLI's side of the local operator API.
struct OperatorClient {
    let baseURL: String
    let token: Secret
    private let http = CurlHTTPClient()

    init(config: CoordinatorConfig) throws {
        baseURL = config.operatorListen.url(scheme: "http")
        do {
            token = Secret(try SecretFile.readString(config.paths.operatorToken, what: "operator token").trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw OperationalError("\(error) (run this as the user that owns \(config.dataDir), usually root or fieldmedic-coordinator)")
        }
    }

    func get<T: Decodable>(_ path: String, as type: T.Type, timeout: TimeInterval = 30) throws -> T {
        try send("GET", path, body: Optional<Data>.none, as: type, timeout: timeout)
    }

    func post<B: Encodable, T: Decodable>(_ path: String, _ body: B, as type: T.Type) throws -> T {
        try send("POST", path, body: try WireCodec.encode(body), as: type, timeout: 30)
    }

    /// Queues a command and waits until the agent answered or `timeout` passed.
    func awaitCommand(agent: String, request: QueueCommandRequest, timeout: TimeInterval) throws -> CommandRecord {
        var record = try post(try OperatorPath.agent(agent, "/commands"), request, as: CommandRecord.self)
        let deadline = Date().addingTimeInterval(timeout)
        while !record.state.isFinished {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { break }
            record = try get("/operator/commands/\(record.id)?wait=\(Int(min(remaining, 30).rounded(.up)))", as: CommandRecord.self, timeout: 45)
        }
        return record
    }

    /// Who is running the CLI, for the audit log: the sudo caller, else the login name.
    static var operatorName: String {
        let environment = ProcessInfo.processInfo.environment
        if let name = environment["SUDO_USER"] ?? environment["USER"], !name.isEmpty { return name }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid-\(getuid())"
    }

    private func send<T: Decodable>(_ method: String, _ path: String, body: Data?, as type: T.Type, timeout: TimeInterval) throws -> T {
        let user = Self.operatorName
        let request = HTTPRequest(
            method: method, url: baseURL + path,
            headers: [("Authorization", "Bearer \(token.revealed)"), ("Content-Type", "application/json"), ("X-FieldMedic-Operator", user)],
            body: body, timeout: timeout)
        let response: HTTPResponse
        do {
            response = try http.perform(request)
        } catch {
            throw OperationalError("cannot reach the coordinator's operator API at \(baseURL): \(error.detail). Is `fieldmedic-coordinator serve` running?")
        }
        guard response.isSuccess else {
            if let problem = try? JSONDecoder().decode(APIErrorBody.self, from: response.body) {
                throw OperationalError(problem.message)
            }
            throw OperationalError("operator API answered \(response.status): \(response.bodyText.prefix(200))")
        }
        do {
            return try WireCodec.decodeStored(T.self, from: response.body)
        } catch {
            throw OperationalError("unexpected answer from the operator API: \(error)")
        }
    }
}
