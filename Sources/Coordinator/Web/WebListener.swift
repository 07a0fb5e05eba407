import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle
import Shared

/// The dashboard's listener: plain HTTP for a TLS reverse proxy in front, or HTTPS with the
/// coordinator's own server certificate (`[web] tls = true`; no client certificates).
enum WebListener {
    static func application(dashboard: WebDashboard, config: WebConfig, paths: CoordinatorPaths, logger: Logger) throws -> AnyService {
        let address = BindAddress.hostname(config.listen.host, port: config.listen.port)
        let onRunning: @Sendable (any Channel) async -> Void = { channel in
            logger.info("web dashboard ready", metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(config.tls)"])
        }
        if config.tls {
            let chain = try NIOSSLCertificate.fromPEMFile(paths.serverCertificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(bytes: Array(try SecretFile.readString(paths.serverKey, what: "server private key").utf8), format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            let server: HTTPServerBuilder = try HTTPServerBuilder.tls(HTTPServerBuilder.http1(), tlsConfiguration: tls)
            let router: Router<WebRequestContext> = dashboard.makeRouter()
            let configuration = ApplicationConfiguration(address: address, serverName: "fieldmedic-web")
            let app = Application(router: router, server: server, configuration: configuration, onServerRunning: onRunning, logger: logger)
            return AnyService(app)
        }
        let router: Router<WebRequestContext> = dashboard.makeRouter()
        let configuration = ApplicationConfiguration(address: address, serverName: "fieldmedic-web")
        let app = Application(router: router, configuration: configuration, onServerRunning: onRunning, logger: logger)
        return AnyService(app)
    }

    /// The bearer token /metrics requires, from `[web] metrics_token_file` (mode 0600); nil: open.
    static func metricsToken(_ config: WebConfig) throws -> Secret? {
        guard let file = config.metricsTokenFile else { return nil }
        let text = try SecretFile.readString(file, what: "metrics token").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 16 else { throw ConfigError(file: file, line: nil, message: "the metrics token in \(file) is shorter than 16 characters") }
        return Secret(text)
    }
}

/// Type erasure so both listener flavours fit one `ServiceGroup` entry.
struct AnyService: Service {
    let body: @Sendable () async throws -> Void
    init(_ service: some Service) { body = { try await service.run() } }
    func run() async throws { try await body() }
}
