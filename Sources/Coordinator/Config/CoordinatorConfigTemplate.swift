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
        # Optional: alerts from Alertmanager and GlitchTip become tickets (see [ingest] below).
        # Plain HTTP behind your TLS reverse proxy, or ingest.tls = true for the coordinator's TLS.
        # ingest = "127.0.0.1:8092"
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
        # live_refresh = "10s"           # how often live pages ask for fresh data (1s to 5m); after
        #                                # three failed asks in a row a page says its data is stale
        # metrics_token_file = "/etc/fieldmedic/metrics.token"   # mode 0600; /metrics then needs
        #                                                       # "Authorization: Bearer <token>"
        # proxy_user_header = "X-Forwarded-User"   # a reverse proxy that signs people in (oauth2-proxy)
        # trusted_proxies = ["127.0.0.1"]         # names them in this header, believed only from
        #                                         # these addresses; each person needs an account

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
        # reopen_within = "24h"        # a recurrence (finding or alert) this soon reopens the closed ticket
        # raw_retention = "7d"         # then hourly min/max/mean
        # hourly_retention = "365d"

        # [ingest]: needs [listen] ingest. POST /v1/ingest/alertmanager (Alertmanager's webhook_config
        # with http_config.authorization.credentials_file holding the same token) and
        # POST /v1/ingest/glitchtip/TOKEN (GlitchTip's "General Slack-compatible webhook").
        # Each alert is stored before the sender gets its answer, then opens a ticket (one per host
        # and alert) or joins the ticket that already owns the same fault on that host.
        # [ingest]
        # alertmanager_token_file = "/etc/fieldmedic/alertmanager.token"  # mode 0600; the bearer token
        # glitchtip_token_file = "/etc/fieldmedic/glitchtip.token"  # mode 0600; 32+ chars of A-Za-z0-9-_, part of the URL
        # tls = false                      # true: serve with the coordinator's certificate; an enrolled
        #                                  # agent's client certificate then also authenticates Alertmanager
        # host_labels = ["instance", "host", "nodename"]   # alert labels naming the host, first present
        #                                  # wins; port stripped; "qfc-1.example.org" also matches host qfc-1
        # Alert names → finding codes, so that the host's own finding answers the alert (and the
        # playbook's fix applies); an alert not listed becomes finding alert.<alertname>: no fix of
        # its own, every finding on the host is a candidate, a person looks when none explains it.
        # [ingest.alertmanager.findings]
        # QFieldCloudWorkerDown = "service.down"     # subject from the alert's service/container label
        # HostDiskSpaceLow = "disk.high"              # subject from its mountpoint label
        # GlitchTip project (or uptime monitor name) → host, for events without a Server Name tag.
        # [ingest.glitchtip.projects]
        # qfieldcloud = "qfc-1"
        # [[notify]]: tell people, one block per channel (repeat the block for more). Messages go
        # through a durable outbox (retries with backoff; `fieldmedic-coordinator notify status`);
        # try a block with `fieldmedic-coordinator notify test NAME`. Secret files: mode 0600.
        # [[notify]]
        # name = "ops-telegram"                 # unique; letters, digits, - and _
        # kind = "telegram"                     # "telegram" | "slack" | "email" | "webhook"
        # events = ["escalated", "awaiting_approval", "resolved", "agent_offline", "agent_back",
        #           "breaker_opened", "budget_spent", "notify_failed", "ingest_failed"]   # default: all
        # min_priority = "P1"                   # ticket events at least this urgent (P0 most); fleet events count as P1
        # hosts = ["vps-1"]                     # only these hosts' events (default: all; fleet-wide events always)
        # group_window = "10s"                  # events within this window leave as one message ("0s" = at once)
        # bot_token_file = "/etc/fieldmedic/telegram.token"   # telegram: the bot's token from @BotFather
        # chat_id = "-1001234567890"            # telegram: group, user or @channel
        # api_url = "https://api.telegram.org"  # telegram, slack, webhook: replaces the service's address (tests, self-hosted Bot API)
        # [[notify]]
        # name = "ops-slack"
        # kind = "slack"
        # webhook_url_file = "/etc/fieldmedic/slack.url"      # slack: the incoming webhook URL (it is the secret)
        # [[notify]]
        # name = "ops-mail"
        # kind = "email"
        # smtp_url = "smtp://mail.example.org:587"            # smtps://HOST:465, or smtp://HOST:587 with STARTTLS
        # from = "fieldmedic@example.org"
        # to = ["ops@example.org"]
        # username = "fieldmedic@example.org"   # default: from (used only with password_file)
        # password_file = "/etc/fieldmedic/smtp.password"     # optional: no login without it
        # starttls = true                       # smtp:// demands STARTTLS; false only for a relay on this machine
        # ca_file = "/etc/fieldmedic/smtp-ca.pem"             # optional: a private CA for the SMTP server
        # [[notify]]
        # name = "ntfy"
        # kind = "webhook"
        # url = "https://ntfy.example.org/fieldmedic"         # JSON POST, see README "Notifications"
        # secret_file = "/etc/fieldmedic/notify-webhook.secret"   # HMAC-SHA256 key for X-FieldMedic-Signature

        # [notify_delivery]: retries of the outbox, for every channel.
        # [notify_delivery]
        # max_attempts = 10          # then the message is marked failed (and the other channels are told)
        # max_age = "24h"            # …or once it is this old
        # backoff = "5s"             # first retry after this, doubling each time
        # backoff_cap = "10m"        # never longer between attempts (a service's retry_after wins)

        # Per finding code: policy = "auto" | "approve" | "never", optional actions = [...].
        # [playbook."service.down"]
        # policy = "approve"
        # [playbook."disk.high"]
        # actions = ["prune_docker"]

        """
    }
}
