import Foundation
import Shared

/// The few operator API calls the benchmark needs: make join tokens and read report counts.
/// (The coordinator's own operator client lives in its executable, which Bench cannot import.)
final class OperatorAPIClient {
    let baseURL: String
    private let token: String
    private let http = CurlHTTPClient()

    init(baseURL: String, tokenFile: String) throws {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = try SecretFile.readString(tokenFile, what: "operator token").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct JoinTokenAnswer: Decodable { var name: String; var token: String }
    struct AgentCount: Decodable { var name: String; var reportCount: Int64 }

    func createJoinToken(agent: String) throws -> String {
        struct AddAgent: Encodable { var name: String }
        return try send("POST", "/operator/agents", body: try WireCodec.encode(AddAgent(name: agent)), as: JoinTokenAnswer.self).token
    }

    /// Stored reports per agent name, as the coordinator counts them.
    func reportCounts() throws -> [String: Int64] {
        let agents = try send("GET", "/operator/agents", body: nil, as: [AgentCount].self)
        return Dictionary(agents.map { ($0.name, $0.reportCount) }, uniquingKeysWith: { first, _ in first })
    }

    private func send<T: Decodable>(_ method: String, _ path: String, body: Data?, as type: T.Type) throws -> T {
        let request = HTTPRequest(
            method: method, url: baseURL + path,
            headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("X-FieldMedic-Operator", "fieldmedic-bench")],
            body: body, timeout: 30)
        let response: HTTPResponse
        do {
            response = try http.perform(request)
        } catch {
            throw BenchError("operator API \(method) \(path): \(error)")
        }
        guard response.status == 200 else {
            throw BenchError("operator API \(method) \(path) answered \(response.status): \(response.bodyText.prefix(300))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw BenchError("operator API \(method) \(path): unexpected answer: \(error)")
        }
    }
}
