import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-coordinator`: the ops-server side of FieldMedic.
@main
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldmedic-coordinator",
        abstract: "Keeps a fleet of QFieldCloud servers healthy through their FieldMedic agents.",
        discussion: """
            Start with `init`, then `serve`. Enroll a host with `agents add NAME` and run the \
            printed `fieldmedic-agent enroll …` command on it. Exit codes: 0 success, \
            1 operational failure, 2 usage or configuration error.
            """,
        version: FieldMedicVersion.current,
        subcommands: [
            InitCommand.self, ServeCommand.self, CheckConfigCommand.self, AgentsCommand.self, HostsCommand.self,
            DiagnoseCommand.self, RunActionCommand.self, TicketsCommand.self, PauseCommand.self, ResumeCommand.self, SilenceCommand.self, SilencesCommand.self,
            UnsilenceCommand.self, StatsCommand.self, UsersCommand.self,
            AuditCommand.self, NotifyCommand.self, IngestCommand.self,
        ])

    static func main() async {
        ExitStatus.bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit || error is ExitCode {
                exit(withError: error)
            }
            if error is ValidationError || String(describing: type(of: error)).contains("CommandError") {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            FileHandle.standardError.write(Data("fieldmedic-coordinator: \(error)\n".utf8))
            Foundation.exit(ExitStatus.code(for: error))
        }
    }
}

/// `--config FILE`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of coordinator.toml.")
    var config: String = CoordinatorConfig.defaultPath

    func load() throws -> CoordinatorConfig {
        try CoordinatorConfig.load(path: config)
    }
}

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check coordinator.toml and the files it points to (CA, keys, secrets, database) with the checks serve makes; print what is wrong and what is risky.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        let paths = config.paths
        _ = try CertificateAuthority(certificatePath: paths.caCertificate, keyPath: paths.caKey)
        _ = try PEMFile.readCertificate(paths.serverCertificate, what: "server certificate")
        _ = try SecretFile.readString(paths.serverKey, what: "server private key")
        _ = try CoordinatorSecrets.load(config)
        try SQLiteCoordinatorStore.checkInitialised(paths)
        if let web = config.web { _ = try WebListener.metricsToken(web) }
        let tickets = config.tickets
        print("\(options.config): ok (agents on \(config.agentsListen), operator API on \(config.operatorListen), data in \(config.dataDir))")
        let sink = tickets.github.map { "GitHub \($0.repository)" + ($0.tokenFile == nil ? " (no token: read-only, public repos)" : "") } ?? "outbox \(paths.outbox)"
        let approvers = tickets.github.map { $0.approvers.isEmpty && !$0.approveWithWritePermission ? "none (approvals always refused)" : $0.approvers.joined(separator: ", ") } ?? "-"
        print("tickets: mode \(tickets.mode.rawValue), reports to \(sink), webhook \(tickets.webhookListen?.description ?? "off"), approvers \(approvers)")
        if let ingest = config.ingest {
            let secrets = try IngestSecrets.load(ingest)
            let senders = [secrets.alertmanagerToken.map { _ in "Alertmanager (bearer token)" }, ingest.tls ? "client certificates of enrolled agents" : nil,
                           secrets.glitchtipToken.map { _ in "GlitchTip (token in the path)" }].compactMap { $0 }
            print("ingest: \(ingest.tls ? "https" : "http")://\(ingest.listen) for \(senders.joined(separator: ", ")); host labels \(ingest.hostLabels.joined(separator: ", ")); \(ingest.findings.count) alert mapping(s)")
        }
        _ = try NotificationChannels.make(config.notify)
        print(NotifyCommand.summary(config.notify))
        if let web = config.web {
            print("dashboard: \(web.tls ? "https" : "http")://\(web.listen), /metrics \(web.metricsTokenFile == nil ? "open" : "with a bearer token")")
        }
        for warning in config.warnings { print("warning: \(warning)") }
    }
}
