import ArgumentParser
import Crypto
import Foundation
import Logging
import Shared

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the data directory: CA, server certificate, operator token and a commented coordinator.toml.")

    @Option(name: .long, help: "Data directory to create (mode 0700).")
    var dataDir: String

    @Option(name: .customLong("server-name"), help: "DNS name or IP agents use to reach this coordinator (repeatable). Default: localhost, 127.0.0.1, ::1 and this host's name.")
    var serverNames: [String] = []

    @Option(name: .long, help: "Where to write coordinator.toml (default: DATA_DIR/coordinator.toml). Not overwritten if it exists.")
    var config: String?

    @Option(name: .long, help: "Address agents connect to (HOST:PORT).")
    var agentsListen: String = "0.0.0.0:8443"

    @Option(name: .long, help: "Address of the local operator API (HOST:PORT, keep it on loopback).")
    var operatorListen: String = "127.0.0.1:8080"

    func validate() throws {
        guard dataDir.hasPrefix("/") else { throw ValidationError("--data-dir must be an absolute path") }
        guard ListenAddress(agentsListen) != nil else { throw ValidationError("--agents-listen must be HOST:PORT") }
        guard ListenAddress(operatorListen) != nil else { throw ValidationError("--operator-listen must be HOST:PORT") }
    }

    func run() async throws {
        let paths = CoordinatorPaths(dataDir: dataDir)
        let files = FileManager.default
        if files.fileExists(atPath: paths.caKey) {
            throw OperationalError("\(paths.caKey) already exists: this data directory is initialised. Remove it first to start over (every enrolled agent would have to enroll again).")
        }
        try files.createDirectory(atPath: paths.pkiDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(dataDir, 0o700)

        var names = serverNames
        if names.isEmpty {
            names = ["localhost", "127.0.0.1", "::1"]
            let host = ProcessInfo.processInfo.hostName
            if !host.isEmpty && !names.contains(host) { names.append(host) }
        }
        let authority = try CertificateAuthority.create()
        let serverKey = P256.Signing.PrivateKey()
        let serverCertificate = try authority.issueServerCertificate(names: names, key: serverKey)

        try SecretFile.write(authority.keyPEM.revealed, to: paths.caKey)
        try AtomicFile.write(Data(try PEMFile.pem(authority.certificate).utf8), to: paths.caCertificate)
        try SecretFile.write(serverKey.pemRepresentation + "\n", to: paths.serverKey)
        try AtomicFile.write(Data((try PEMFile.pem(serverCertificate) + PEMFile.pem(authority.certificate)).utf8), to: paths.serverCertificate)
        try SecretFile.write(Base64URL.encode(SecureRandom.bytes(32)) + "\n", to: paths.operatorToken)

        let configPath = config ?? dataDir + "/coordinator.toml"
        if !files.fileExists(atPath: configPath) {
            let text = CoordinatorConfigTemplate.render(dataDir: dataDir, agentsListen: agentsListen, operatorListen: operatorListen)
            try AtomicFile.write(Data(text.utf8), to: configPath, mode: 0o640)
        }

        let store = try SQLiteCoordinatorStore(path: paths.database)
        try await store.appendAudit(AuditEntry(
            actor: "operator", action: "coordinator.initialised", subject: dataDir,
            details: ["ca_sha256": try authority.fingerprint(), "server_names": names.joined(separator: ",")]))

        print("""
            Initialised \(dataDir)
              CA certificate   \(paths.caCertificate) (sha256 \(try authority.fingerprint()))
              server names     \(names.joined(separator: ", "))
              configuration    \(configPath)
            Next: fieldmedic-coordinator serve --config \(configPath)
            """)
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the coordinator: the agent listener (mTLS) and the local operator API.",
        discussion: """
            Optional listeners from coordinator.toml: [listen] webhook (GitHub deliveries) and [listen] ingest \
            (alerts: POST /v1/ingest/alertmanager with a bearer token, POST /v1/ingest/glitchtip/TOKEN).
            """)

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        var logger = Logger(label: "fieldmedic.coordinator")
        logger.logLevel = ProcessInfo.processInfo.environment["FIELDMEDIC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        logger.info("starting fieldmedic-coordinator \(FieldMedicVersion.current)", metadata: ["config": "\(options.config)"])
        try await CoordinatorServer(config: config, logger: logger).run()
    }
}
