import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Shared

/// Both listeners of a running coordinator: agents over mutual TLS, operators on loopback.
struct CoordinatorServer {
    let config: CoordinatorConfig
    let logger: Logger

    func run() async throws {
        let paths = config.paths
        // Test-only (see TestFailpoints): read once, before anything starts.
        let failpoints = try TestFailpoints.fromEnvironment()
        let store = try SQLiteCoordinatorStore.openInitialised(paths)
        let authority = try CertificateAuthority(certificatePath: paths.caCertificate, keyPath: paths.caKey)
        let secrets = try CoordinatorSecrets.load(config)
        for warning in config.warnings { logger.warning("\(warning)") }
        let clock = SystemClock()
        let fleet = try FleetService(
            store: store, authority: authority, certificateLifetime: config.certificateLifetime,
            tokenLifetime: config.tokenLifetime, clock: clock, logger: logger)
        let rejections = fleet.rejections

        try await store.appendAudit(AuditEntry(
            at: clock.now(), actor: "coordinator", action: "config.loaded", subject: config.path,
            details: ["agents_listen": config.agentsListen.description, "operator_listen": config.operatorListen.description,
                      "version": FieldMedicVersion.current]))

        // A copy of the head outside the database, in the journal (see `audit head`).
        if let head = try store.auditHead() { logger.info("audit head", metadata: ["anchor": "\(head)"]) }

        let agentRouter = AgentAPI(
            fleet: fleet, authenticator: AgentAuthenticator(store: store, clock: clock, rejections: rejections, cache: fleet.authorizations),
            maxBodyBytes: config.maxBodyBytes, maxLongPoll: config.maxLongPoll, logger: logger
        ).makeRouter()

        let tls = try Self.tlsConfiguration(paths: paths, authority: authority)
        let agentServer = HTTPServerBuilder { responder in
            let http = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(300)))
            return AuditedTLSChannel(base: try TLSChannel(http, tlsConfiguration: tls), rejections: rejections)
        }
        let agentLogger = logger
        let agentApp = Application(
            router: agentRouter,
            server: agentServer,
            configuration: .init(address: .hostname(config.agentsListen.host, port: config.agentsListen.port), serverName: "fieldmedic", backlog: 1024),
            onServerRunning: { channel in
                agentLogger.info("agent listener ready (mutual TLS)", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)

        let tickets = try TicketServices.make(config: config, secrets: secrets, store: store, fleet: fleet, clock: clock, logger: logger)
        let ingestSecrets = try config.ingest.map(IngestSecrets.load)
        let operatorRouter = OperatorRouter.make(token: secrets.operatorToken, rejections: rejections, routes: [
            OperatorAPI(fleet: fleet, offlineAfter: config.offlineAfter),
            TicketOperatorAPI(engine: tickets.engine, mode: config.tickets.mode, mentions: config.tickets.github?.mentions ?? [], predict: config.tickets.predict),
            IngestOperatorAPI(store: store, wake: { await fleet.notifier.notify(IngestService.wakeKey) }),
        ], logger: logger)
        let operatorApp = Application(
            router: operatorRouter,
            configuration: .init(address: .hostname(config.operatorListen.host, port: config.operatorListen.port), serverName: "fieldmedic-operator"),
            onServerRunning: { channel in
                agentLogger.info("operator API ready", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: agentApp),
            .init(service: operatorApp),
            .init(service: tickets.runner),
            .init(service: Watcher(engine: tickets.engine, config: config.tickets.predict, offlineAfter: config.offlineAfter, logger: logger)),
            .init(service: ShutdownHook(notifier: fleet.notifier)),
            .init(service: NotificationService(
                outbox: store, tickets: store, wake: store.notifyWake, config: config.notify, playbook: config.tickets.playbook,
                channels: try NotificationChannels.make(config.notify), clock: clock, logger: logger)),
        ]
        if let web = config.web {
            let dashboard = try WebDashboard(
                engine: tickets.engine, store: store, config: web, offlineAfter: config.offlineAfter, mentions: config.tickets.github?.mentions ?? [],
                metricsToken: try WebListener.metricsToken(web), metrics: .shared, paths: paths, logger: logger)
            services.append(.init(service: try WebListener.application(dashboard: dashboard, config: web, paths: paths, logger: logger)))
        }
        if let webhook = tickets.webhook, let address = config.tickets.webhookListen {
            services.append(.init(service: Application(
                router: webhook.makeRouter(),
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: "fieldmedic-webhook"),
                onServerRunning: { channel in
                    agentLogger.info("GitHub webhook listener ready", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
                },
                logger: logger)))
        }
        if let ingest = config.ingest, let ingestSecrets {
            let service = IngestService(engine: tickets.engine, store: store, config: ingest, logger: logger, failpoints: failpoints)
            let api = IngestAPI(
                service: service, config: ingest, secrets: ingestSecrets,
                authenticator: ingest.tls ? AgentAuthenticator(store: store, clock: clock, rejections: rejections, cache: fleet.authorizations) : nil,
                rejections: rejections, logger: logger)
            services.append(.init(service: service))
            services.append(.init(service: try Self.ingestApplication(api, config: ingest, tls: tls, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("coordinator stopped")
    }

    /// The ingest listener: plain HTTP (behind the operator's TLS proxy) or the agents' TLS
    /// configuration (the coordinator's certificate; client certificates optional).
    static func ingestApplication(_ api: IngestAPI, config: IngestConfig, tls: TLSConfiguration, logger: Logger) throws -> any Service {
        let configuration = ApplicationConfiguration(address: .hostname(config.listen.host, port: config.listen.port), serverName: "fieldmedic-ingest")
        let ready: @Sendable (any Channel) async -> Void = { channel in
            logger.info("ingest listener ready", metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(config.tls)"])
        }
        guard config.tls else {
            return Application(router: api.makeRouter(), configuration: configuration, onServerRunning: ready, logger: logger)
        }
        let server = HTTPServerBuilder { responder in
            try TLSChannel(HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(300))), tlsConfiguration: tls)
        }
        return Application(router: api.makeRouter(), server: server, configuration: configuration, onServerRunning: ready, logger: logger)
    }

    static func tlsConfiguration(paths: CoordinatorPaths, authority: CertificateAuthority) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(paths.serverCertificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(try SecretFile.readString(paths.serverKey, what: "server private key").utf8), format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: try PEMFile.der(authority.certificate), format: .der)])
        // Optional at the handshake so /v1/enroll works before the agent has a certificate;
        // every other route requires one. A presented certificate must chain to our CA.
        // (.fullVerification would also match the client's IP against its SANs.)
        tls.certificateVerification = .optionalVerification
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}

/// Releases waiting long-polls as soon as shutdown begins, so the server stops promptly.
struct ShutdownHook: Service {
    let notifier: Notifier

    func run() async throws {
        try? await gracefulShutdown()
        await notifier.close()
    }
}
