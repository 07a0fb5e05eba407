import ArgumentParser
import Foundation

/// `fieldmedic-bench`: load generators for FieldMedic's channel. A benchmark, not a test:
/// it measures, prints figures and fails only when the server answers wrongly.
@main
struct FieldMedicBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldmedic-bench",
        abstract: "Load generator for the FieldMedic channel (health reports over mutual TLS).",
        discussion: """
            Usually driven by scripts/bench-channel.sh, which starts a coordinator and an nginx
            reference and runs both subcommands against them:
              fieldmedic-bench enroll --url https://127.0.0.1:8443 --ca DATA/pki/ca.pem \\
                  --operator-url http://127.0.0.1:8080 --operator-token-file DATA/operator.token \\
                  --agents 64 --identities /tmp/bench-agents
              fieldmedic-bench health --url https://127.0.0.1:8443 --ca DATA/pki/ca.pem \\
                  --identities /tmp/bench-agents --agents 64 --concurrency 32 --duration 20
            """,
        subcommands: [EnrollCommand.self, HealthCommand.self, CodecCommand.self, ProxyLogCommand.self, IngestBurstCommand.self, NotifyBenchCommand.self, AlertNotifyCommand.self])
}
