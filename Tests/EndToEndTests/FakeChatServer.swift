import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Telegram's Bot API, a Slack incoming webhook and a signed generic webhook, on 127.0.0.1
/// and a free port, answering as the real ones do (shapes from fixtures/alerts): Telegram
/// `{"ok":true,"result":{…}}` / `{"ok":false,"error_code":429,…,"parameters":{"retry_after":N}}`,
/// Slack `ok` / `invalid_payload` as plain text and 429 with `Retry-After`. Faults are queued
/// per service; every request is recorded.
///
/// Routes: `POST /bot<token>/sendMessage`, `POST /services/<path>`, `POST /hook`.
final class FakeChatServer: @unchecked Sendable {
    // @unchecked: all mutable state is read and written while holding `lock`.

    enum Service: String, Sendable { case telegram, slack, webhook }

    struct Fault: Sendable {
        var status: Int
        var body: String
        var headers: [(String, String)] = []
    }

    struct Recorded: Sendable {
        var service: Service
        var path: String
        var headers: [(String, String)]
        var body: Data

        func header(_ name: String) -> String? { headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1 }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    let botToken: String
    let webhookSecret: String
    private let lock = NSLock()
    private var port = 0
    private var server: LoopbackHTTPServer?
    private var recorded: [Recorded] = []
    private var faults: [Service: [Fault]] = [:]
    /// A service answering this for every request until cleared (an outage).
    private var outage: [Service: Fault] = [:]
    private var messageID = 0

    init(botToken: String, webhookSecret: String) {
        self.botToken = botToken
        self.webhookSecret = webhookSecret
    }

    var baseURL: String { lock.withLock { "http://127.0.0.1:\(port)" } }
    var requests: [Recorded] { lock.withLock { recorded } }
    /// Requests the service accepted (answered 2xx).
    func delivered(_ service: Service) -> [Recorded] { lock.withLock { accepted.filter { $0.service == service } } }
    private var accepted: [Recorded] = []

    func queue(_ service: Service, _ fault: Fault) { lock.withLock { faults[service, default: []].append(fault) } }
    func setOutage(_ service: Service, _ fault: Fault?) { lock.withLock { outage[service] = fault } }

    static func telegramFlood(retryAfter: Int) -> Fault {
        Fault(status: 429, body: "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after \(retryAfter)\",\"parameters\":{\"retry_after\":\(retryAfter)}}")
    }

    static func start(botToken: String = "123456:TEST-bot-token-ABCDEFGHIJ", webhookSecret: String = "webhook-signing-secret") async throws -> FakeChatServer {
        let server = FakeChatServer(botToken: botToken, webhookSecret: webhookSecret)
        try await server.run()
        return server
    }

    private func run() async throws {
        let server = try await LoopbackHTTPServer.start(name: "chat", maxBodyBytes: 1 << 20) { [self] request, body in
            self.respond(request, body: body)
        }
        lock.withLock {
            self.port = server.port
            self.server = server
        }
    }

    func stop() async {
        await lock.withLock { self.server }?.stop()
    }

    private func respond(_ request: Request, body: Data) -> Response {
        let path = request.uri.path
        let headers = request.headers.map { ($0.name.rawName, $0.value) }
        let service: Service?
        if path.hasPrefix("/bot") { service = .telegram } else if path.hasPrefix("/services/") { service = .slack } else if path == "/hook" { service = .webhook } else { service = nil }
        guard let service, request.method == .post else { return Self.reply(404, "{\"ok\":false,\"error_code\":404,\"description\":\"Not Found\"}", json: true) }
        let entry = Recorded(service: service, path: path, headers: headers, body: body)
        let (status, text, extra): (Int, String, [(String, String)]) = lock.withLock {
            recorded.append(entry)
            if let fault = outage[service] ?? (faults[service]?.isEmpty == false ? faults[service]!.removeFirst() : nil) {
                return (fault.status, fault.body, fault.headers)
            }
            let answer = check(entry)
            if (200..<300).contains(answer.0) { accepted.append(entry) }
            return answer
        }
        return Self.reply(status, text, json: service != .slack, headers: extra)
    }

    /// What the real service says to a well- or ill-formed request (called holding `lock`).
    private func check(_ entry: Recorded) -> (Int, String, [(String, String)]) {
        switch entry.service {
        case .telegram:
            guard entry.path == "/bot\(botToken)/sendMessage" else {
                return (401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}", [])
            }
            let json = entry.json
            guard let text = json["text"] as? String, !text.isEmpty, json["chat_id"] != nil else {
                return (400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message text is empty\"}", [])
            }
            if text.utf16.count > 4096 { return (400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message is too long\"}", []) }
            messageID += 1
            let result: [String: Any] = ["ok": true, "result": ["message_id": messageID, "date": Int(Date().timeIntervalSince1970),
                                                                "chat": ["id": -100123213, "type": "supergroup"], "text": text]]
            let data = (try? JSONSerialization.data(withJSONObject: result)) ?? Data()
            return (200, String(decoding: data, as: UTF8.self), [])
        case .slack:
            guard let text = entry.json["text"] as? String, !text.isEmpty else { return (400, "invalid_payload", []) }
            return (200, "ok", [])
        case .webhook:
            guard let timestamp = entry.header("X-FieldMedic-Timestamp"), let signature = entry.header("X-FieldMedic-Signature") else {
                return (401, "{\"error\":\"unsigned\"}", [])
            }
            let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + ".").utf8) + entry.body, using: SymmetricKey(data: Data(webhookSecret.utf8)))
            guard signature == "sha256=" + mac.map({ String(format: "%02x", $0) }).joined() else { return (401, "{\"error\":\"bad signature\"}", []) }
            return (200, "{\"ok\":true}", [])
        }
    }

    private static func reply(_ status: Int, _ text: String, json: Bool, headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        func set(_ name: String, _ value: String) {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        set("Content-Type", json ? "application/json" : "text/plain;charset=utf-8")
        for (name, value) in headers { set(name, value) }
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: buffer))
    }
}

