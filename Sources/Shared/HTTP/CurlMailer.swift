import CCurl
import Foundation

/// One e-mail for `CurlMailer`: plain text, UTF-8.
public struct MailMessage: Sendable {
    public var from: String
    public var to: [String]
    public var subject: String
    public var body: String

    public init(from: String, to: [String], subject: String, body: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
    }

    /// Header values with line breaks removed: a subject can never add a header.
    static func headerValue(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        guard !flat.allSatisfy(\.isASCII) else { return flat }
        // RFC 2047 encoded word for anything beyond ASCII.
        return "=?UTF-8?B?" + Data(flat.utf8).base64EncodedString() + "?="
    }

    /// An address in angle brackets for MAIL FROM / RCPT TO.
    static func envelope(_ address: String) -> String {
        let bare = address.trimmingCharacters(in: .whitespaces)
        if let open = bare.lastIndex(of: "<"), let close = bare.lastIndex(of: ">"), open < close { return String(bare[open...close]) }
        return "<\(bare)>"
    }
}

/// Why a mail could not be handed to the SMTP server. Its text names the server, never the
/// password (which libcurl gets as an option, not in the URL).
public struct MailError: Error, CustomStringConvertible, Sendable {
    public var code: Int
    public var detail: String
    /// A refusal that the same message and settings will meet again (login denied, recipient
    /// refused, TLS demanded but not offered); a retry will not help.
    public var isPermanent: Bool

    public var description: String { "SMTP: \(detail) (curl \(code))" }
}

/// Sends mail over SMTP with libcurl: `smtps://` (TLS from the first byte) or `smtp://` with
/// STARTTLS required (or, only when asked, none: a relay on loopback). Blocking: run it off
/// the event loops.
///
/// ```swift
/// let mailer = CurlMailer(url: "smtp://mail.example.org:587", requireTLS: true)
/// try mailer.send(MailMessage(from: "fm@example.org", to: ["ops@example.org"], subject: "P0", body: "…"),
///                 username: "fm@example.org", password: secret.revealed)
/// ```
public final class CurlMailer {
    public let url: String
    public var requireTLS: Bool
    public var caFile: String?
    public var timeout: TimeInterval

    public init(url: String, requireTLS: Bool = true, caFile: String? = nil, timeout: TimeInterval = 30) {
        self.url = url
        self.requireTLS = requireTLS
        self.caFile = caFile
        self.timeout = timeout
    }

    public func send(_ message: MailMessage, username: String?, password: String?, date: Date = Date()) throws(MailError) {
        _ = CurlHTTPClient.ensureGlobalInit
        guard let handle = curl_easy_init() else { throw MailError(code: -1, detail: "libcurl could not allocate a handle", isPermanent: false) }
        defer { curl_easy_cleanup(handle) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        func setString(_ option: CURLoption, _ value: String) { _ = value.withCString { fm_curl_setopt_string(handle, option, $0) } }
        func setLong(_ option: CURLoption, _ value: Int) { _ = fm_curl_setopt_long(handle, option, value) }

        setString(CURLOPT_URL, url)
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        setLong(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        _ = fm_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // STARTTLS is demanded, never merely tried: a server that does not offer it fails the
        // send instead of receiving the password in the clear. (smtps:// is TLS anyway.)
        if requireTLS { setLong(CURLOPT_USE_SSL, 3 /* CURLUSESSL_ALL */) }
        if let caFile { setString(CURLOPT_CAINFO, caFile) }
        setLong(CURLOPT_SSL_VERIFYPEER, 1)
        setLong(CURLOPT_SSL_VERIFYHOST, 2)
        if let username { setString(CURLOPT_USERNAME, username) }
        if let password { setString(CURLOPT_PASSWORD, password) }
        setString(CURLOPT_MAIL_FROM, MailMessage.envelope(message.from))
        var recipients: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(recipients) }
        for address in message.to { recipients = curl_slist_append(recipients, MailMessage.envelope(address)) }
        _ = fm_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients)

        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        for line in [
            "Date: \(formatter.string(from: date))",
            "From: \(MailMessage.headerValue(message.from))",
            "To: \(MailMessage.headerValue(message.to.joined(separator: ", ")))",
            "Subject: \(MailMessage.headerValue(message.subject))",
        ] {
            headers = curl_slist_append(headers, line)
        }
        _ = fm_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)

        guard let mime = curl_mime_init(handle) else { throw MailError(code: -1, detail: "libcurl could not build the message", isPermanent: false) }
        defer { curl_mime_free(mime) }
        let part = curl_mime_addpart(mime)
        let body = message.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        _ = body.withCString { curl_mime_data(part, $0, body.utf8.count) }
        _ = curl_mime_type(part, "text/plain; charset=utf-8")
        // Quoted-printable keeps long lines and UTF-8 intact through any relay.
        _ = curl_mime_encoder(part, "quoted-printable")
        _ = fm_curl_setopt_pointer(handle, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(mime))

        let code = curl_easy_perform(handle)
        guard code != CURLE_OK else { return }
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let permanent = [CURLE_LOGIN_DENIED, CURLE_USE_SSL_FAILED, CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL].contains(code)
            || detail.contains(" 55") // 5xx answers to MAIL FROM / RCPT TO ("RCPT failed: 550")
        throw MailError(code: Int(code.rawValue), detail: detail, isPermanent: permanent)
    }
}
