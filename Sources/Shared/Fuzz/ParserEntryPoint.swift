import Foundation

/// The parsers the outside world feeds, each as one function of raw bytes: what the libFuzzer
/// driver (`Fuzz/FieldMedicFuzz`, run by `scripts/fuzz.sh`) calls, and what `FuzzCorpusTests`
/// replays the committed corpus and crashes through on every test run. A parser may refuse
/// anything; it must never crash, hang or allocate without bound.
///
/// The agent's parsers (Docker's JSON, psql's output) and the coordinator's (webhook bodies)
/// live in those executables: `ParserEntryPoint.agent` and `ParserEntryPoint.coordinator`,
/// replayed by their own test targets and fuzzed by the same driver (see scripts/fuzz.sh).
///
/// ```swift
/// ParserEntryPoint.named("health")?.run(Data(#"{"version":1,"reports":[]}"#.utf8))
/// ```
public struct ParserEntryPoint: Sendable {
    public let name: String
    public let run: @Sendable (Data) -> Void

    public init(name: String, run: @escaping @Sendable (Data) -> Void) {
        self.name = name
        self.run = run
    }

    public static let all: [ParserEntryPoint] = [
        // POST /v1/health from an agent (and the spool it replays).
        ParserEntryPoint(name: "health") { data in
            _ = try? WireCodec.decode(HealthBatch.self, from: data)
        },
        // POST /v1/enroll from anyone: the body, the token in it, the name, the CSR.
        ParserEntryPoint(name: "enroll") { data in
            guard let request = try? WireCodec.decode(EnrollRequest.self, from: data) else { return }
            _ = try? JoinToken.parse(request.token)
            _ = try? AgentName.validate(request.name)
            _ = try? CertificateAuthority.checkedRequest(request.csrPEM)
        },
        // Commands to agents and their results back.
        ParserEntryPoint(name: "command") { data in
            _ = try? WireCodec.decode(Command.self, from: data)
            _ = try? WireCodec.decode(CommandResult.self, from: data)
            _ = try? WireCodec.decode(RenewRequest.self, from: data)
        },
        // agent.toml and coordinator.toml, read the way the loaders read them.
        ParserEntryPoint(name: "toml") { data in
            guard let text = String(data: data, encoding: .utf8), let reader = try? ConfigReader(text: text, path: "fuzz.toml") else { return }
            _ = try? reader.string("data_dir")
            _ = try? reader.duration("agents.cert_lifetime", default: 1)
            _ = try? reader.int("limits.max_body_bytes", default: 1, range: 0...10)
            _ = try? reader.stringArray("github.approvers", default: [])
            _ = try? reader.finish()
        },
        // Certificates and keys as PEM (the join flow's CA, renewed certificates, key files).
        ParserEntryPoint(name: "pem") { data in
            guard let text = String(data: data, encoding: .utf8) else { return }
            _ = try? PEMFile.certificate(fromPEM: text, what: "fuzz")
            _ = DurationText.parse(text)
            _ = WireDate.parse(text)
        },
    ]

    public static func named(_ name: String) -> ParserEntryPoint? { all.first { $0.name == name } }

    /// The committed inputs of a target under `fuzzRoot` (the repository's Fuzz/): `kind` is
    /// "corpus" or "crashes"; paths sorted, hidden files left out.
    public static func committedInputs(fuzzRoot: String, kind: String, target: String) -> [String] {
        let directory = "\(fuzzRoot)/\(kind)/\(target)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Runs every committed input of this target (its corpus, then every crash found) through
    /// it; a parser that crashes takes the caller down. Returns how many of each ran.
    public func replayCommitted(fuzzRoot: String) throws -> (corpus: Int, crashes: Int) {
        let corpus = Self.committedInputs(fuzzRoot: fuzzRoot, kind: "corpus", target: name)
        let crashes = Self.committedInputs(fuzzRoot: fuzzRoot, kind: "crashes", target: name)
        for path in corpus + crashes { run(try Data(contentsOf: URL(fileURLWithPath: path))) }
        return (corpus.count, crashes.count)
    }

    /// Every fuzz target's name, in this module and in the agent's and coordinator's lists:
    /// Fuzz/corpus and Fuzz/crashes hold one directory per name (scripts/fuzz.sh lists the same).
    public static let targetNames = ["health", "enroll", "command", "toml", "pem", "docker", "psql", "logs", "webhook", "alertmanager", "glitchtip"]
}
