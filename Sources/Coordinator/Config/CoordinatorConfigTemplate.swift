/// The commented `coordinator.toml` that `init` writes and the package ships.
enum CoordinatorConfigTemplate {
    static func render(dataDir: String, agentsListen: String = "0.0.0.0:8443", operatorListen: String = "127.0.0.1:8080") -> String {
        """
        # FieldMedic coordinator configuration.
        # Durations are strings: "90s", "5m", "1h", "7d". Unknown keys are errors:
        # run `fieldmedic-coordinator check-config --config FILE` after editing.

        # Where the database, the CA and the operator token live (mode 0700).
        data_dir = "\(dataDir)"

        [listen]
        # Agents dial in here over mutual TLS. Open this port to your VPSs only.
        agents = "\(agentsListen)"
        # The local operator API used by this machine's CLI. Keep it on loopback.
        operator = "\(operatorListen)"

        [agents]
        # Lifetime of an agent's client certificate; agents renew at two thirds of it.
        cert_lifetime = "30d"
        # How long a join token from `agents add NAME` stays valid (one use).
        token_lifetime = "1h"
        # An agent with no report for this long is shown as offline.
        offline_after = "3m"

        [limits]
        # Requests with larger bodies are refused with 413.
        max_body_bytes = 1048576
        # Longest a command long-poll may wait before answering 204.
        max_long_poll = "60s"

        """
    }
}
