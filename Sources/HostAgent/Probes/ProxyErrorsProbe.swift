import Foundation
import Shared

/// nginx's answers as users get them: rates of 413, 444, 499 and 5xx per endpoint family
/// (and of Django's CSRF 403s on its web forms),
/// read from the nginx container's log through the Engine API (QFieldCloud's nginx writes its
/// access log to stdout, which the json-file driver keeps). Each cycle asks only for lines
/// newer than the last one it read (`since=`), never for the log from its start.
struct ProxyErrorsProbe: Probe {
    let name = "proxy"
    var engine: any DockerEngine
    var project: String
    var service = "nginx"
    /// QFIELDCLOUD_HOST as configured (`[status] host`): a 444 for a Host that differs only in
    /// case is the #1829 fault, not a scanner.
    var host: String?
    var window: TimeInterval
    var errorPercent: Double
    var minimumErrors: Int
    var now: @Sendable () -> Date = { Date() }

    private let state: LockedValue<State>

    struct State: Sendable {
        var cursor: DockerLogCursor?
        var window: ProxyErrorWindow
        /// Lines read by the last cycle (for the benchmark and the probe's own health).
        var linesRead = 0
        /// How many of the log's last lines to ask for next.
        var tail = ProxyErrorsProbe.minimumTail
    }

    init(engine: any DockerEngine, project: String, service: String = "nginx", host: String?, window: TimeInterval, errorPercent: Double,
         minimumErrors: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.engine = engine
        self.project = project
        self.service = service
        self.host = host
        self.window = window
        self.errorPercent = errorPercent
        self.minimumErrors = minimumErrors
        self.now = now
        self.state = LockedValue(State(window: ProxyErrorWindow(length: window)))
    }

    var linesReadLastCycle: Int { state.value.linesRead }

    func collect() async -> ProbeResult {
        let now = now()
        let container: DockerContainer
        do {
            let candidates = try engine.containers(project: project).filter { $0.service == service }
            guard let found = candidates.first(where: { $0.state == "running" }) ?? candidates.first else {
                return ProbeResult(error: "no \(service) container in the compose project \(project)",
                    fix: "start it (`docker compose up -d \(service)`), or set `[proxy] service = \"\"` in agent.toml when another proxy serves QFieldCloud")
            }
            container = found
        } catch {
            return ProbeResult(error: error.description)
        }
        // A new (or recreated) container: start one window back, not at its first line.
        let fresh = DockerLogCursor(containerID: container.id, start: LogTimestamp(now.addingTimeInterval(-window)))
        let since = state.withLock { $0.cursor?.containerID == container.id ? $0.cursor! : fresh }.sinceParameter
        // The engine is asked outside the lock; the cursor moves under it, from wherever it
        // is by then, so two overlapping cycles never count a line twice.
        let text: String
        do {
            text = try readNewLines(container.id, since: since)
        } catch {
            return ProbeResult(error: "cannot read the \(service) container's log: \(error.description)")
        }
        let (requests, errors, samples) = state.withLock { state in
            var cursor = fresh
            if let current = state.cursor, current.containerID == container.id {
                cursor = current
            } else {
                state.window = ProxyErrorWindow(length: window)
            }
            let lines = cursor.advance(over: text[...])
            for (time, line) in lines {
                if let entry = AccessLogEntry.parse(line) { state.window.record(entry, at: time, host: host) }
            }
            state.window.prune(now: now)
            state.cursor = cursor
            state.linesRead = lines.count
            return (state.window.requests, state.window.errors, state.window.samples)
        }
        return ProbeResult(findings: findings(requests: requests, errors: errors, samples: samples))
    }

    /// Every line from `since` on, asking for the log's tail only: `since` alone makes the
    /// json-file driver decode the whole file (a gigabyte on a busy server) on every cycle,
    /// while `tail` reads it backwards. An answer that fills the whole tail may have left
    /// lines out, so the tail grows until the answer reaches back past `since`.
    func readNewLines(_ id: String, since: String) throws(DockerError) -> String {
        var tail = state.value.tail
        while true {
            let text = try engine.logs(id, since: since, tail: tail)
            let lines = text.utf8.reduce(0) { $1 == 0x0a ? $0 + 1 : $0 }
            if lines < tail || tail >= Self.maximumTail {
                // Ask for a bit more than this cycle needed next time.
                state.withLock { $0.tail = min(Self.maximumTail, max(Self.minimumTail, lines * 2)) }
                return text
            }
            tail = min(Self.maximumTail, tail * 8)
        }
    }

    static let minimumTail = 2000
    /// About 250 MB of access log between two cycles: past that, the oldest are left out.
    static let maximumTail = 1 << 20

    /// One finding per status code, naming every family whose share of errors reaches the
    /// thresholds.
    func findings(requests: [EndpointFamily: Int], errors: [ProxyErrorWindow.Key: Int], samples: [ProxyErrorWindow.Key: String]) -> [Finding] {
        var byStatus: [Int: [(family: EndpointFamily, count: Int, total: Int)]] = [:]
        for (key, count) in errors {
            let total = max(requests[key.family] ?? count, count)
            let percent = Double(count) * 100 / Double(total)
            guard count >= minimumErrors, percent >= errorPercent else { continue }
            byStatus[key.status, default: []].append((key.family, count, total))
        }
        return byStatus.keys.sorted().map { status in
            let families = byStatus[status]!.sorted { $0.family < $1.family }
            var evidence: [String: String] = ["status": String(status), "window": DurationText.format(window)]
            for item in families {
                evidence["\(item.family.rawValue)_errors"] = String(item.count)
                evidence["\(item.family.rawValue)_requests"] = String(item.total)
                evidence["\(item.family.rawValue)_percent"] = String(format: "%.1f", Double(item.count) * 100 / Double(item.total))
                if let sample = samples[ProxyErrorWindow.Key(status: status, family: item.family)] { evidence["\(item.family.rawValue)_sample"] = sample }
            }
            let what = families.map { String(format: "%d of %d %@ requests (%.0f%%)", $0.count, $0.total, $0.family.rawValue, Double($0.count) * 100 / Double($0.total)) }
                .joined(separator: ", ")
            let severity: Finding.Severity = status >= 500 || status == 413 ? .critical : .warning
            return Finding(.proxyErrors, severity: severity, subject: "\(service):\(status)",
                message: "nginx answered \(status) to \(what) in the last \(DurationText.format(window)): " + Self.nextStep(status: status),
                evidence: evidence)
        }
    }

    /// What the operator does next, per status code.
    static func nextStep(status: Int) -> String {
        switch status {
        case 403:
            "Django refused form posts (login, admin) with 403: CSRF \"Origin checking failed\", the browser's Origin (https://HOST) is not the origin Django sees. Behind an external reverse proxy that terminates TLS (QFieldCloud #1083, #1201), make it pass the public Host unchanged and `X-Forwarded-Proto: https` (nginx: `proxy_set_header Host $host; proxy_set_header X-Forwarded-Proto $scheme;`), which QFieldCloud reads through SECURE_PROXY_SSL_HEADER. If users reach the server under another name than QFIELDCLOUD_HOST, that origin (e.g. https://qfield.example.org) must be in Django's CSRF_TRUSTED_ORIGINS, which QFieldCloud's settings do not read from .env: prefer making that name QFIELDCLOUD_HOST. Confirm with `docker compose logs --tail 200 app | grep -i csrf`."
        case 413:
            "uploads are larger than a proxy accepts. Raise NGINX_CLIENT_MAX_BODY_SIZE in .env (nginx's client_max_body_size, QFieldCloud's default 10g) and the body limit of any reverse proxy in front of nginx, then `docker compose up -d nginx`."
        case 444:
            "nginx dropped the requests because their Host is not QFIELDCLOUD_HOST. Set QFIELDCLOUD_HOST in .env to the public host name exactly as clients type it, in lowercase (browsers and QField send it lowercased), then `docker compose up -d nginx app`."
        case 499:
            "clients gave up before the app answered. Look for slow requests in `docker compose logs --tail 200 app`; slow uploads and downloads of packages point at the app's workers or the object storage."
        case 500:
            "the app failed on these requests. Read the traceback in `docker compose logs --tail 200 app`; with DEBUG=0, check that QFIELDCLOUD_WORKER_QFIELDCLOUD_URL goes through nginx, not to http://app:8000 (QFieldCloud #1061)."
        case 502:
            "nginx could not reach the app. Check `docker compose ps app` and `docker compose logs --tail 200 app` (gunicorn crashed, restarting or killed for memory)."
        case 503:
            "the app was unavailable (QFieldCloud's nginx turns the app's 502/503/504 into 503 with its loading page). Check `docker compose ps app` and `docker compose logs --tail 200 app`."
        case 504:
            "the app did not answer within NGINX_PROXY_READ_TIMEOUT (default 300s). Check `docker compose logs --tail 200 app` and the worker (`docker compose logs --tail 200 worker_wrapper`) for what is slow; raise the timeout in .env only if those requests are legitimately that slow."
        default:
            "read `docker compose logs --tail 200 nginx` and `docker compose logs --tail 200 app` around those requests."
        }
    }
}
