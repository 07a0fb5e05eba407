/// The commented `coordinator.toml` that `init` writes and the package ships.
enum CoordinatorConfigTemplate {
    static func render(dataDir: String, agentsListen: String = "0.0.0.0:8443", operatorListen: String = "127.0.0.1:8080") -> String {
        """
        # FieldMedic coordinator configuration.
        # Durations are strings: "90s", "5m", "1h", "7d". Unknown keys are errors:
        # run `fieldmedic-coordinator check-config --config FILE` after editing.

        # Where the database, the CA and the operator token live (mode 0700).
        data_dir = "\(dataDir)"

        # What the ticket loop may do: "observe" (diagnose and report only), "propose" (every fix
        # needs an approval), "fix" (the playbook's policy decides). New installs: start with observe.
        mode = "fix"

        [listen]
        # Agents dial in here over mutual TLS. Open this port to your VPSs only.
        agents = "\(agentsListen)"
        # The local operator API used by this machine's CLI. Keep it on loopback (serve and
        # check-config warn otherwise).
        operator = "\(operatorListen)"
        # Optional: GitHub webhook deliveries, plain HTTP (put it behind your TLS reverse proxy).
        # webhook = "127.0.0.1:8091"
        # Optional: the web dashboard and Prometheus /metrics, plain HTTP unless [web] tls = true.
        # Accounts: `fieldmedic-coordinator users add NAME --role viewer|approver|admin`.
        # web = "127.0.0.1:8081"

        [agents]
        # The URL agents use to reach the agents listener, printed in the enroll command by
        # `agents add NAME` (default: listen.agents with this machine's host name).
        # public_url = "https://ops.example.org:8443"
        # Lifetime of an agent's client certificate (at most 825d); agents renew at two thirds of it.
        cert_lifetime = "30d"
        # How long a join token from `agents add NAME` stays valid (one use, at most 7d).
        token_lifetime = "1h"
        # An agent with no report for this long is shown as offline (at most 7d).
        offline_after = "3m"

        [limits]
        # Requests with larger bodies are refused with 413.
        max_body_bytes = 1048576
        # Longest a command long-poll may wait before answering 204 (at most 290s).
        max_long_poll = "60s"

        # [web]: the dashboard (needs [listen] web).
        # [web]
        # tls = false                    # HTTPS with this coordinator's server certificate (pki/server.pem)
        # session_lifetime = "12h"       # a login lasts this long (1m to 30d)
        # login_attempts = 5             # failed logins per account and per address in 15 minutes (1 to 100)
        # metrics_token_file = "/etc/fieldmedic/metrics.token"   # mode 0600; /metrics then needs
        #                                                       # "Authorization: Bearer <token>"

        # [github]: take tickets from a repository's issues and post reports there. Without this
        # section the coordinator runs in outbox mode: reports are written under data_dir/outbox/.
        # [github]
        # repo = "acme/qfieldcloud-ops"
        # api_url = "https://api.github.com"         # GitHub Enterprise: https://HOST/api/v3
        # token_file = "/etc/fieldmedic/github.token" # mode 0600; fine-grained token with Issues: read/write
        # poll_interval = "60s"                      # "0s" = webhook only
        # webhook_secret_file = "/etc/fieldmedic/github-webhook.secret"   # needs [listen] webhook
        # label = "fieldmedic"                        # only issues with this label (optional)
        # approvers = ["alice", "bob"]                # GitHub logins whose /fieldmedic commands count
        # approve_with_write_permission = false       # also anyone with write access to the repo
        # mentions = ["alice"]                        # told on escalations and approval requests

        # [guardrails]
        # budget_per_hour = 3        # automatic fixes per host and action
        # budget_per_day = 7
        # breaker_failures = 5       # failed fixes fleet-wide within breaker_window pause all fixes
        # breaker_window = "1h"
        # approval_timeout = "24h"
        # command_timeout = "5m"     # how long to wait for an agent's answer
        # stateful_services = ["postgis"]   # added to db, minio, rustfs, storage, geodb: services
        #                                   # that hold data are never touched without an approver

        # [predict]: act on the minute reports before users notice. A disk-full prediction needs the
        # trend over disk_window to say full within disk_horizon AND free space under
        # disk_free_below percent AND both to hold for `hold` (no alarms from periodic clean-ups).
        # [predict]
        # enabled = true
        # disk_window = "6h"
        # disk_horizon = "24h"
        # disk_free_below = 40
        # hold = "1h"
        # disk_recent_window = "1h"    # the last hour's trend must agree (no alarm after a backup)
        # queue_window = "1h"          # pending grows while nothing finishes → stalled worker
        # crashloop_window = "15m"     # crashloop_restarts restarts within it → crash loop
        # crashloop_restarts = 3
        # persist_reports = 2          # a finding in this many consecutive reports opens a ticket
        # reopen_within = "24h"        # a recurrence this soon reopens the closed ticket
        # raw_retention = "7d"         # then hourly min/max/mean
        # hourly_retention = "365d"

        # Per finding code: policy = "auto" | "approve" | "never", optional actions = [...].
        # [playbook."service.down"]
        # policy = "approve"
        # [playbook."disk.high"]
        # actions = ["prune_docker"]

        """
    }
}
