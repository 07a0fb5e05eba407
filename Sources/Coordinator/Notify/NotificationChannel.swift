import Crypto
import Foundation
import Shared

/// A place messages go: Telegram, Slack, e-mail, a webhook. `send` blocks (libcurl, SMTP);
/// the delivery service runs it off the event loops and outside every lock.
///
/// ```swift
/// struct Printer: NotificationChannel {
///     let name = "stdout"
///     func send(_ message: NotificationMessage) throws(DeliveryError) { print(message.plainText) }
/// }
/// ```
protocol NotificationChannel: Sendable {
    var name: String { get }
    func send(_ message: NotificationMessage) throws(DeliveryError)
}

/// Why a send failed, in words with no secret in them.
struct DeliveryError: Error, CustomStringConvertible, Sendable, Equatable {
    var message: String
    /// The service asked to wait this long (Telegram's `retry_after`, Slack's `Retry-After`).
    var retryAfter: TimeInterval?
    /// The same send will fail again (a bad token, a chat that does not exist): retrying only
    /// delays the failure report, so attempts end sooner.
    var permanent = false

    var description: String { message }
}

/// How channels make HTTP requests: libcurl in production, anything in unit tests.
protocol HTTPTransport: Sendable {
    func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse
}

/// A fresh libcurl handle per request: channels send rarely, and a handle is not Sendable.
struct CurlTransport: HTTPTransport {
    func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        try CurlHTTPClient(maxResponseBytes: 1 << 20).perform(request)
    }
}

/// Removes a channel's secrets (and anything that looks like one) from text before it is
/// logged or stored.
struct Scrubber: Sendable {
    var secrets: [Secret]

    func clean(_ text: String) -> String {
        var out = text
        for secret in secrets where secret.revealed.count >= 4 {
            out = out.replacingOccurrences(of: secret.revealed, with: Secret.redactedText)
        }
        return Redactor.redact(out)
    }
}

/// A transport failure in words: the address shown is the redacted one (a Telegram URL holds
/// the bot token, a Slack webhook URL is itself the secret).
func transportFailure(_ error: HTTPClientError, shownAs address: String, scrubber: Scrubber) -> DeliveryError {
    let text = error.description.replacingOccurrences(of: error.url, with: address)
    return DeliveryError(message: scrubber.clean(text), retryAfter: nil, permanent: false)
}

/// Classifies an HTTP answer that is not a success: 429 waits, 5xx retries, 4xx is permanent.
func httpFailure(status: Int, detail: String, retryAfter: TimeInterval?, service: String, scrubber: Scrubber) -> DeliveryError {
    let text = scrubber.clean("\(service) answered \(status): \(detail.prefix(300))")
    if status == 429 { return DeliveryError(message: text, retryAfter: retryAfter ?? 30, permanent: false) }
    return DeliveryError(message: text, retryAfter: retryAfter, permanent: (400..<500).contains(status) && status != 408)
}

// MARK: Telegram

/// Bot API `sendMessage` in HTML parse mode. The token is part of the URL path, so the URL is
/// never logged or stored: errors name `api.telegram.org/bot[REDACTED]` instead.
struct TelegramChannel: NotificationChannel {
    let name: String
    let token: Secret
    let chatID: String
    let apiURL: String
    let transport: any HTTPTransport

    private var scrubber: Scrubber { Scrubber(secrets: [token]) }
    private var shownAddress: String { apiURL + "/bot" + Secret.redactedText + "/sendMessage" }

    func send(_ message: NotificationMessage) throws(DeliveryError) {
        struct Body: Encodable {
            var chat_id: String
            var text: String
            var parse_mode = "HTML"
            var link_preview_options = ["is_disabled": true]
        }
        let body: Data
        do { body = try JSONEncoder().encode(Body(chat_id: chatID, text: TelegramText.render(message))) } catch {
            throw DeliveryError(message: "could not encode the message: \(error)", permanent: true)
        }
        let request = HTTPRequest(method: "POST", url: apiURL + "/bot" + token.revealed + "/sendMessage",
                                  headers: [("Content-Type", "application/json")], body: body, timeout: 30)
        let response: HTTPResponse
        do throws(HTTPClientError) { response = try transport.perform(request) } catch { throw transportFailure(error, shownAs: shownAddress, scrubber: scrubber) }
        struct Answer: Decodable {
            struct Parameters: Decodable { var retry_after: Double? }
            var ok: Bool
            var description: String?
            var error_code: Int?
            var parameters: Parameters?
        }
        let answer = try? JSONDecoder().decode(Answer.self, from: response.body)
        if response.isSuccess && answer?.ok == true { return }
        let detail = answer?.description ?? String(response.bodyText.prefix(200))
        throw httpFailure(status: response.status, detail: detail, retryAfter: answer?.parameters?.retry_after,
                          service: "Telegram (\(shownAddress))", scrubber: scrubber)
    }
}

// MARK: Slack

/// An incoming webhook: the URL is the secret. Answers are plain text (`ok`, `invalid_payload`).
struct SlackChannel: NotificationChannel {
    let name: String
    let webhookURL: Secret
    let transport: any HTTPTransport

    private var scrubber: Scrubber { Scrubber(secrets: [webhookURL]) }
    private var shownAddress: String {
        // The host only: the path is the credential.
        let url = URL(string: webhookURL.revealed)
        return (url?.scheme ?? "https") + "://" + (url?.host ?? "?") + (url?.port.map { ":\($0)" } ?? "") + "/[REDACTED]"
    }

    func send(_ message: NotificationMessage) throws(DeliveryError) {
        let body: Data
        do { body = try JSONEncoder().encode(["text": SlackText.render(message)]) } catch {
            throw DeliveryError(message: "could not encode the message: \(error)", permanent: true)
        }
        let request = HTTPRequest(method: "POST", url: webhookURL.revealed, headers: [("Content-Type", "application/json")], body: body, timeout: 30)
        let response: HTTPResponse
        do throws(HTTPClientError) { response = try transport.perform(request) } catch { throw transportFailure(error, shownAs: shownAddress, scrubber: scrubber) }
        if response.isSuccess { return }
        let retryAfter = response.header("Retry-After").flatMap(Double.init)
        throw httpFailure(status: response.status, detail: response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines),
                          retryAfter: retryAfter, service: "Slack (\(shownAddress))", scrubber: scrubber)
    }
}

// MARK: Webhook

/// A JSON POST signed with HMAC-SHA256 (for ntfy, Matrix bridges, chat tools).
///
/// Format (documented in the README):
/// `X-FieldMedic-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>`,
/// `X-FieldMedic-Timestamp: <unix seconds>`, `X-FieldMedic-Delivery: <id>` (the same on a
/// retry: receivers drop repeats by it). Body: `{"delivery", "text", "events": [{kind,
/// dedupe_key, ticket, host, title, lines, link, at}]}`.
struct WebhookChannel: NotificationChannel {
    let name: String
    let url: String
    let secret: Secret
    let transport: any HTTPTransport
    var now: @Sendable () -> Date = { Date() }

    struct Payload: Codable, Sendable {
        struct Event: Codable, Sendable {
            var kind: String
            var dedupe_key: String
            var ticket: Int64?
            var host: String?
            var title: String
            var lines: [String]
            var link: String?
            var at: String
        }
        var delivery: String
        var text: String
        var events: [Event]
    }

    static func deliveryID(_ message: NotificationMessage) -> String {
        let keys = message.events.map(\.dedupeKey).joined(separator: "\n")
        return SHA256.hash(data: Data(keys.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    static func signature(secret: Secret, timestamp: String, body: Data) -> String {
        let key = SymmetricKey(data: secret.revealedBytes)
        let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + ".").utf8) + body, using: key)
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    func send(_ message: NotificationMessage) throws(DeliveryError) {
        let scrubber = Scrubber(secrets: [secret])
        let delivery = Self.deliveryID(message)
        let payload = Payload(delivery: delivery, text: message.plainText, events: message.events.map {
            Payload.Event(kind: $0.kind.rawValue, dedupe_key: $0.dedupeKey, ticket: $0.ticketID, host: $0.host, title: $0.title,
                          lines: $0.lines, link: $0.link, at: WireDate.format($0.at))
        })
        let body: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            body = try encoder.encode(payload)
        } catch {
            throw DeliveryError(message: "could not encode the message: \(error)", permanent: true)
        }
        let timestamp = String(Int(now().timeIntervalSince1970))
        let request = HTTPRequest(method: "POST", url: url, headers: [
            ("Content-Type", "application/json"),
            ("X-FieldMedic-Delivery", delivery),
            ("X-FieldMedic-Timestamp", timestamp),
            ("X-FieldMedic-Signature", Self.signature(secret: secret, timestamp: timestamp, body: body)),
        ], body: body, timeout: 30)
        let response: HTTPResponse
        do throws(HTTPClientError) { response = try transport.perform(request) } catch { throw transportFailure(error, shownAs: Redactor.redact(url), scrubber: scrubber) }
        if response.isSuccess { return }
        throw httpFailure(status: response.status, detail: response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines),
                          retryAfter: response.header("Retry-After").flatMap(Double.init), service: "webhook \(Redactor.redact(url))", scrubber: scrubber)
    }
}

// MARK: E-mail

/// SMTP through libcurl: smtps:// or smtp:// with STARTTLS demanded.
struct EmailChannel: NotificationChannel {
    let name: String
    let smtpURL: String
    let from: String
    let to: [String]
    let username: String?
    let password: Secret?
    let starttls: Bool
    let caFile: String?

    func send(_ message: NotificationMessage) throws(DeliveryError) {
        let mailer = CurlMailer(url: smtpURL, requireTLS: smtpURL.hasPrefix("smtps://") || starttls, caFile: caFile)
        let scrubber = Scrubber(secrets: password.map { [$0] } ?? [])
        do throws(MailError) {
            try mailer.send(MailMessage(from: from, to: to, subject: message.subject, body: message.plainText),
                            username: password == nil ? nil : (username ?? from), password: password?.revealed)
        } catch {
            throw DeliveryError(message: scrubber.clean("\(smtpURL): \(error)"), retryAfter: nil, permanent: error.isPermanent)
        }
    }
}
