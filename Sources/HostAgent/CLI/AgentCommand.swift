import ArgumentParser
import Foundation
import Logging
import Shared

/// `fieldmedic-agent`: the host side of FieldMedic.
@main
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldmedic-agent",
        abstract: "Watches this QFieldCloud host and reports to the FieldMedic coordinator.",
        discussion: """
            Enroll once with the token from `fieldmedic-coordinator agents add NAME`, then `run` \
            (systemd does this). The agent only dials out; it opens no port. \
            Exit codes: 0 success, 1 operational failure, 2 usage or configuration error.
            """,
        version: FieldMedicVersion.current,
        subcommands: [EnrollCommand.self, RunCommand.self, CheckConfigCommand.self, DiagnoseCommand.self])

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
            FileHandle.standardError.write(Data("fieldmedic-agent: \(error)\n".utf8))
            Foundation.exit(ExitStatus.code(for: error))
        }
    }
}

struct AgentConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of agent.toml.")
    var config: String = AgentConfig.defaultPath

    func load() throws -> AgentConfig {
        try AgentConfig.load(path: config)
    }
}

struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Join the coordinator with a one-time token; writes the key, certificates and (if missing) agent.toml.")

    @OptionGroup var options: AgentConfigOption
    @Option(name: .long, help: "The coordinator's agent URL, e.g. https://ops.example.org:8443.") var coordinator: String
    @Option(name: .long, help: "The join token printed by `fieldmedic-coordinator agents add NAME`.") var token: String
    @Option(name: .long, help: "This agent's name, as given to `agents add`.") var name: String
    @Option(name: .long, help: "State directory, used when agent.toml does not exist yet.") var stateDir: String = AgentConfig.defaultStateDir
    @Flag(name: .long, help: "Enroll again even if this host already has a certificate.") var force = false

    func validate() throws {
        guard coordinator.hasPrefix("https://") else { throw ValidationError("--coordinator must start with https://") }
        do { try AgentName.validate(name) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        let joinToken = try JoinToken.parse(token)
        let configExists = FileManager.default.fileExists(atPath: options.config)
        let url = coordinator.hasSuffix("/") ? String(coordinator.dropLast()) : coordinator
        var paths = AgentPaths(stateDir: stateDir)
        if configExists {
            let config = try options.load()
            if let existing = config.identity?.name, existing != name {
                throw UsageError("this agent is \"\(existing)\" (\(options.config) or its enrollment) but --name is \"\(name)\"; use the same name, or --force with a token for \(name)")
            }
            paths = config.paths
        }
        if paths.isEnrolled && !force {
            throw OperationalError("this host is already enrolled (\(paths.certificate) exists); pass --force to enroll again with a new token")
        }
        let grant = try Enrollment(coordinatorURL: url, name: name, token: joinToken, paths: paths).run()
        try AgentIdentity(name: name, coordinatorURL: url).write(stateDir: paths.stateDir)
        if !configExists {
            let directory = (options.config as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            try AtomicFile.write(Data(AgentConfigTemplate.render(stateDir: stateDir).utf8), to: options.config, mode: 0o640)
            print("Wrote \(options.config).")
        }
        print("Enrolled as \(grant.agent): certificate \(grant.serial), valid until \(WireDate.format(grant.notAfter)).")
        print("Start the agent: systemctl enable --now fieldmedic-agent   (or: fieldmedic-agent run --config \(options.config))")
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Report health every interval and run commands from the coordinator (until SIGTERM).")

    @OptionGroup var options: AgentConfigOption

    func run() async throws {
        let config = try options.load()
        let runtime = try AgentRuntime(config: config, logger: Logger(label: "fieldmedic.agent"))
        // The runtime blocks its own threads; keep it off the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                runtime.run()
                continuation.resume()
            }
            thread.name = "fieldmedic-main"
            thread.start()
        }
    }
}

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check agent.toml (and, once enrolled, that the key is private); print each problem with file, line and what to write instead.")

    @OptionGroup var options: AgentConfigOption

    func run() async throws {
        let config = try options.load()
        let who = config.identity.map { "agent \($0.name) → \($0.coordinatorURL)" } ?? "no identity yet"
        let enrolled = config.paths.isEnrolled ? "enrolled" : "not enrolled yet"
        if config.paths.isEnrolled { try config.paths.checkKey() }
        print("\(options.config): ok (\(who), reports every \(DurationText.format(config.reportInterval)), \(enrolled))")
    }
}

struct DiagnoseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose", abstract: "Run every probe on this host now and print what they find.")

    @OptionGroup var options: AgentConfigOption
    @Flag(name: .long, help: "Run here, without asking the coordinator (the only mode for now).") var local = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "Run the probes this many times (the same probes: the proxy probe reads on from where it stopped) and print each cycle's CPU time on stderr.")
    var cycles: Int = 1
    @Option(name: .long, help: "Seconds between two cycles (with --cycles).") var every: Double = 1

    func validate() throws {
        guard cycles >= 1 else { throw ValidationError("--cycles must be at least 1") }
        guard every >= 0 else { throw ValidationError("--every must not be negative") }
    }

    func run() async throws {
        guard local else { throw UsageError("pass --local: the agent diagnoses its own host; use `fieldmedic-coordinator diagnose NAME` from the ops server") }
        let config = try options.load()
        let probes = ProbeSet.standard(config)
        var report = HealthReport(id: "", sequence: 0, agent: "", createdAt: Date())
        for cycle in 1...cycles {
            if cycle > 1 { try await Task.sleep(for: .seconds(every)) }
            let before = ProcessCPU.now()
            report = await probes.collect(agent: config.identity?.name ?? ProcessInfo.processInfo.hostName)
            if cycles > 1 {
                let used = ProcessCPU.now() - before
                let probeTimes = report.probes.map { String(format: "%@ %.1f ms", $0.name, $0.durationMs) }.joined(separator: ", ")
                FileHandle.standardError.write(Data(String(format: "cycle %d: %.2f ms CPU (agent %.2f, its children %.2f); wall per probe: %@\n",
                    cycle, used.total * 1000, used.own * 1000, used.children * 1000, probeTimes).utf8))
            }
        }
        if json {
            print(String(decoding: try WireCodec.encoder().encode(report), as: UTF8.self))
        } else {
            print(ReportFormatter.render(report))
        }
    }
}
