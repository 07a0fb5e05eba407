import Foundation
import Shared

/// The agent's calls to its coordinator over mutual TLS. Blocking: each thread that talks to
/// the coordinator owns one client (and so one kept-alive connection).
final class CoordinatorClient {
    let baseURL: String
    private let paths: AgentPaths
    private var http: CurlHTTPClient
    private var certificateVersion: FileVersion?
    private let abort: AbortFlag?

    init(baseURL: String, paths: AgentPaths, abort: AbortFlag? = nil) {
        self.baseURL = baseURL
        self.paths = paths
        self.http = Self.makeHTTP(paths)
        self.certificateVersion = FileVersion(paths.certificate)
        self.abort = abort
    }

    private static func makeHTTP(_ paths: AgentPaths) -> CurlHTTPClient {
        CurlHTTPClient(tls: CurlTLSOptions(caFile: paths.ca, certificateFile: paths.certificate, keyFile: paths.key))
    }

    /// A kept-alive connection still presents the certificate it was opened with: after a
    /// renewal (by this thread or another) start over with fresh connections.
    private func reconnectIfCertificateChanged() {
        let current = FileVersion(paths.certificate)
        if current != certificateVersion {
            http = Self.makeHTTP(paths)
            certificateVersion = current
        }
    }

    func sendHealth(_ reports: [HealthReport]) throws(ChannelError) -> HealthReceipt {
        try call("POST", "/v1/health", body: HealthBatch(reports: reports), timeout: 30, as: HealthReceipt.self)!
    }

    /// Waits up to `wait` seconds for a command; nil when there is none.
    func nextCommand(wait: Int) throws(ChannelError) -> Command? {
        try call("GET", "/v1/commands/next?wait=\(wait)", body: Optional<HealthBatch>.none, timeout: TimeInterval(wait) + 15, as: Command.self)
    }

    func sendResult(_ result: CommandResult) throws(ChannelError) {
        _ = try call("POST", "/v1/commands/\(result.commandId)/result", body: result, timeout: 30, as: IgnoredBody.self)
    }

    func renew(csrPEM: String) throws(ChannelError) -> CertificateGrant {
        try call("POST", "/v1/renew", body: RenewRequest(csrPEM: csrPEM), timeout: 30, as: CertificateGrant.self)!
    }

    private func call<B: Encodable, T: Decodable>(
        _ method: String, _ path: String, body: B?, timeout: TimeInterval, as type: T.Type
    ) throws(ChannelError) -> T? {
        reconnectIfCertificateChanged()
        var request = HTTPRequest(method: method, url: baseURL + path, headers: [("Accept", "application/json")], timeout: timeout)
        if let body {
            request.body = try? WireCodec.encode(body)
            request.headers.append(("Content-Type", "application/json"))
        }
        let response: HTTPResponse
        do {
            response = try http.perform(request, abort: abort)
        } catch {
            throw .unreachable(error)
        }
        return try Self.interpret(response, as: type)
    }

    static func interpret<T: Decodable>(_ response: HTTPResponse, as type: T.Type) throws(ChannelError) -> T? {
        if response.status == 204 { return nil }
        guard response.isSuccess else {
            let problem = try? JSONDecoder().decode(APIErrorBody.self, from: response.body)
            if response.status == 401 || response.status == 403 {
                throw .rejected(status: response.status, code: problem?.error ?? "forbidden", message: problem?.message ?? response.bodyText)
            }
            throw .unexpected(status: response.status, message: problem?.message ?? String(response.bodyText.prefix(300)))
        }
        if T.self == IgnoredBody.self { return IgnoredBody() as? T }
        do {
            return try WireCodec.decodeStored(T.self, from: response.body)
        } catch {
            throw .malformedAnswer("\(error)")
        }
    }
}

struct IgnoredBody: Decodable {}

/// Identity of a file's current content: replaced files (atomic rename) get a new inode.
struct FileVersion: Equatable {
    var inode: UInt64
    var modified: Int

    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        modified = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
    }
}
