import CCurl
import Foundation

/// TLS settings for a libcurl transfer.
public struct CurlTLSOptions: Sendable {
    /// PEM file of the CA that must have signed the server's certificate.
    public var caFile: String?
    /// Client certificate and key (PEM) for mutual TLS.
    public var certificateFile: String?
    public var keyFile: String?
    /// Only for the first step of enrollment, where the CA is checked by hash instead.
    public var verifyPeer: Bool

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
    }
}

/// A blocking HTTP(S) client over the system libcurl, one per thread, reusing connections.
///
/// libcurl brings mutual TLS through the system OpenSSL, unix sockets (the Docker Engine
/// API) and `HTTPS_PROXY`. Its calls block: run them on a thread of their own, never on an
/// event loop.
public final class CurlHTTPClient {
    public var tls: CurlTLSOptions
    public var unixSocketPath: String?
    public var maxResponseBytes: Int
    public var userAgent: String

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    /// For other users of libcurl in this module (`CurlMailer`).
    static var ensureGlobalInit: Bool { globalInit }

    public init(tls: CurlTLSOptions = CurlTLSOptions(), unixSocketPath: String? = nil, maxResponseBytes: Int = 64 << 20) {
        _ = Self.globalInit
        guard let easy = curl_easy_init() else { fatalError("libcurl could not allocate a handle (out of memory)") }
        self.handle = easy
        self.tls = tls
        self.unixSocketPath = unixSocketPath
        self.maxResponseBytes = maxResponseBytes
        self.userAgent = "fieldmedic/\(FieldMedicVersion.current)"
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Performs one request and returns the answer, whatever its status.
    /// `onChunk`, when given, receives the body as it arrives instead of it being collected;
    /// returning false ends the transfer.
    public func perform(_ request: HTTPRequest, abort: AbortFlag? = nil, onChunk: ((Data) -> Bool)? = nil) throws(HTTPClientError) -> HTTPResponse {
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = TransferSink(limit: maxResponseBytes, abort: abort, onChunk: onChunk)
        let sinkPointer = Unmanaged.passRetained(sink).toOpaque()
        defer { Unmanaged<TransferSink>.fromOpaque(sinkPointer).release() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        setString(CURLOPT_URL, request.url)
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        setLong(CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        setString(CURLOPT_USERAGENT, userAgent)
        setLong(CURLOPT_TCP_KEEPALIVE, 1)
        _ = fm_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        if let socket = unixSocketPath { setString(CURLOPT_UNIX_SOCKET_PATH, socket) }

        if let ca = tls.caFile { setString(CURLOPT_CAINFO, ca) }
        if let cert = tls.certificateFile { setString(CURLOPT_SSLCERT, cert) }
        if let key = tls.keyFile { setString(CURLOPT_SSLKEY, key) }
        setLong(CURLOPT_SSL_VERIFYPEER, tls.verifyPeer ? 1 : 0)
        setLong(CURLOPT_SSL_VERIFYHOST, tls.verifyPeer ? 2 : 0)
        if request.captureCertificates { setLong(CURLOPT_CERTINFO, 1) }

        switch request.method {
        case "GET":
            setLong(CURLOPT_HTTPGET, 1)
        case "HEAD":
            setLong(CURLOPT_NOBODY, 1)
        default:
            if request.method != "POST" { setString(CURLOPT_CUSTOMREQUEST, request.method) }
            if request.body != nil || request.method == "POST" {
                let body = request.body ?? Data()
                setLong(CURLOPT_POST, 1)
                _ = fm_curl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
                body.withUnsafeBytes { raw in
                    // COPYPOSTFIELDS copies `POSTFIELDSIZE` bytes, NULs included.
                    let base = raw.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
                    _ = fm_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                }
            }
        }

        // No "Expect: 100-continue" round trip for small JSON bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        _ = fm_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)

        _ = fm_curl_setopt_write(handle, { data, size, count, user in
            let sink = Unmanaged<TransferSink>.fromOpaque(user!).takeUnretainedValue()
            return sink.receiveBody(data, size * count) ? size * count : 0
        })
        _ = fm_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
        _ = fm_curl_setopt_header(handle, { data, size, count, user in
            let sink = Unmanaged<TransferSink>.fromOpaque(user!).takeUnretainedValue()
            sink.receiveHeader(data, size * count)
            return size * count
        })
        _ = fm_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer)
        if abort != nil {
            setLong(CURLOPT_NOPROGRESS, 0)
            _ = fm_curl_setopt_xferinfo(handle, { user, _, _, _, _ in
                let sink = Unmanaged<TransferSink>.fromOpaque(user!).takeUnretainedValue()
                return sink.abort?.isSet == true ? 1 : 0
            })
            _ = fm_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, sinkPointer)
        }

        let code = curl_easy_perform(handle)
        // A consumer that stopped the body early still gets the answer it stopped.
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && sink.stoppedByConsumer) {
            throw makeError(code, url: request.url, sink: sink)
        }
        var response = HTTPResponse(status: responseCode(), headers: sink.headers, body: sink.body)
        if request.captureCertificates { response.certificates = certificateInfo() }
        return response
    }

    private func certificateInfo() -> [[String: String]] {
        var info: UnsafeMutablePointer<curl_certinfo>?
        guard fm_curl_getinfo_certinfo(handle, &info) == CURLE_OK, let info else { return [] }
        var chain: [[String: String]] = []
        for index in 0..<Int(info.pointee.num_of_certs) {
            var fields: [String: String] = [:]
            var node = info.pointee.certinfo[index]
            while let current = node {
                let line = String(cString: current.pointee.data)
                if let colon = line.firstIndex(of: ":") {
                    fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
                }
                node = current.pointee.next
            }
            chain.append(fields)
        }
        return chain
    }

    private func responseCode() -> Int {
        var status = 0
        _ = fm_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    private func makeError(_ code: CURLcode, url: String, sink: TransferSink) -> HTTPClientError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let kind: HTTPClientError.Kind
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_COULDNT_CONNECT: kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH: kind = .tlsPeerVerification
        case CURLE_SSL_CERTPROBLEM: kind = .tlsLocalCertificate
        case CURLE_SSL_CONNECT_ERROR: kind = .tlsHandshake
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connectionLost
        case CURLE_ABORTED_BY_CALLBACK: kind = .aborted
        case CURLE_WRITE_ERROR where sink.overLimit: kind = .responseTooLarge
        default: kind = .other
        }
        return HTTPClientError(kind: kind, code: Int(code.rawValue), url: url, detail: detail)
    }

    private func setString(_ option: CURLoption, _ value: String) {
        _ = value.withCString { fm_curl_setopt_string(handle, option, $0) }
    }

    private func setLong(_ option: CURLoption, _ value: Int) {
        _ = fm_curl_setopt_long(handle, option, value)
    }
}

/// Collects what libcurl hands to its callbacks during one transfer.
private final class TransferSink {
    let limit: Int
    let abort: AbortFlag?
    let onChunk: ((Data) -> Bool)?
    var headers: [(String, String)] = []
    var body = Data()
    var overLimit = false
    var stoppedByConsumer = false

    init(limit: Int, abort: AbortFlag?, onChunk: ((Data) -> Bool)?) {
        self.limit = limit
        self.abort = abort
        self.onChunk = onChunk
    }

    func receiveBody(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Bool {
        guard let data, count > 0 else { return true }
        if abort?.isSet == true { return false }
        let chunk = Data(bytes: data, count: count)
        if let onChunk {
            if !onChunk(chunk) {
                stoppedByConsumer = true
                return false
            }
            return true
        }
        if body.count + count > limit {
            overLimit = true
            return false
        }
        body.append(chunk)
        return true
    }

    func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) {
        guard let data else { return }
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (after 100 Continue or a redirect)
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
        let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        headers.append((name, value))
    }
}
