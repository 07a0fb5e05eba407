import Foundation
import Prometheus
import Shared

/// FieldMedic's own series for Prometheus (text format 0.0.4 at `/metrics` on the web
/// listener). Every metric is registered here, once, at start (swift-prometheus stops the
/// process if one name is registered with two types or help texts). Label values are from
/// closed sets, so the series count is bounded; the one per-host series is bounded by the
/// fleet (docs/metrics.md lists every series and its cardinality).
///
/// ```swift
/// CoordinatorMetrics.shared.notification(channel: "telegram", result: "sent")
/// CoordinatorMetrics.shared.ingest(source: "alertmanager", result: "accepted")
/// ```
final class CoordinatorMetrics: Sendable {
    static let shared = CoordinatorMetrics()
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let registry = PrometheusCollectorRegistry()

    // Label sets known in advance are created at start, so a series is 0 rather than missing.
    static let reportRejectReasons = ["malformed", "unsupported_version", "body_too_large", "wrong_agent", "other"]
    static let agentStates = ["online", "offline", "pending", "revoked"]
    static let ticketSources = ["github", "finding", "prediction", "operator"]
    static let fixResults = ["verified", "unverified", "failed"]
    static let githubStatuses = ["2xx", "3xx", "4xx", "5xx", "network"]
    static let notificationChannels = ["telegram", "slack", "email", "webhook"]
    static let notificationResults = ["sent", "failed", "dropped"]
    static let ingestSources = ["alertmanager", "glitchtip"]
    static let ingestResults = ["accepted", "duplicate", "rejected"]

    static let reportBuckets: [Duration] = CoordinatorMetrics.milliseconds([5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000])
    static let fixBuckets: [Duration] = CoordinatorMetrics.milliseconds([30, 60, 120, 300, 600, 1800, 3600, 14_400, 86_400].map { (seconds: Int64) -> Int64 in seconds * 1000 })

    static func milliseconds(_ values: [Int64]) -> [Duration] {
        var out: [Duration] = []
        for value in values { out.append(Duration.milliseconds(value)) }
        return out
    }

    private let reportsReceived: Counter
    private let reportDuplicates: Counter
    private let reportSeconds: DurationHistogram
    private let fixSeconds: DurationHistogram
    private let githubRateRemaining: Gauge
    private let auditRows: Gauge
    private let storeBytes: Gauge
    private let breakerOpen: Gauge
    private let fleetPaused: Gauge
    private let scrapeTimestamp: Gauge

    init() {
        reportsReceived = registry.makeCounter(name: "fieldmedic_reports_received_total", help: "Health reports accepted from agents.")
        reportDuplicates = registry.makeCounter(name: "fieldmedic_reports_duplicate_total", help: "Health reports received again (already stored).")
        reportSeconds = registry.makeDurationHistogram(
            name: "fieldmedic_report_handling_seconds",
            buckets: Self.reportBuckets,
            help: "Time to decode and store one batch of health reports.")
        fixSeconds = registry.makeDurationHistogram(
            name: "fieldmedic_time_to_verified_fix_seconds",
            buckets: Self.fixBuckets,
            help: "From a ticket's opening to its verified fix.")
        githubRateRemaining = registry.makeGauge(name: "fieldmedic_github_rate_limit_remaining", help: "GitHub API calls left in the current rate-limit window (last answer seen).")
        auditRows = registry.makeGauge(name: "fieldmedic_audit_rows", help: "Rows in the audit log.")
        storeBytes = registry.makeGauge(name: "fieldmedic_store_size_bytes", help: "Size of the coordinator's SQLite database with its WAL.")
        breakerOpen = registry.makeGauge(name: "fieldmedic_circuit_breaker_open", help: "1 while the fleet-wide circuit breaker holds every fix.")
        fleetPaused = registry.makeGauge(name: "fieldmedic_fixes_paused", help: "1 while an operator has paused fixes fleet-wide.")
        scrapeTimestamp = registry.makeGauge(name: "fieldmedic_metrics_refreshed_timestamp_seconds", help: "When the store-derived gauges were last read.")
        let build: Gauge = registry.makeGauge(name: "fieldmedic_build_info", labels: [("version", FieldMedicVersion.current)], help: "The running coordinator's version (always 1).")
        build.set(to: Double(1))
        for reason in Self.reportRejectReasons { reportRejected(reason: reason, count: 0) }
        for state in Self.agentStates { agentsGauge(state).set(to: 0) }
        for state in TicketState.allCases { ticketsGauge(state.rawValue).set(to: 0) }
        for source in Self.ticketSources { ticketsBySourceGauge(source).set(to: 0) }
        for status in Self.githubStatuses { githubCounter(status).increment(by: Int64(0)) }
        for channel in Self.notificationChannels { for result in Self.notificationResults { notificationCounter(channel, result).increment(by: Int64(0)) } }
        for source in Self.ingestSources { for result in Self.ingestResults { ingestCounter(source, result).increment(by: Int64(0)) } }
    }

    // MARK: Recording (called where the event happens)

    func reportsStored(accepted: Int, duplicates: Int, elapsed: Duration) {
        reportsReceived.increment(by: Int64(accepted))
        reportDuplicates.increment(by: Int64(duplicates))
        reportSeconds.record(elapsed)
    }

    /// `reason` is folded into `reportRejectReasons`.
    func reportRejected(reason: String, count: Int = 1) {
        let folded = Self.reportRejectReasons.contains(reason) ? reason : "other"
        registry.makeCounter(name: "fieldmedic_reports_rejected_total", labels: [("reason", folded)], help: "Health report batches refused, by reason.")
            .increment(by: Int64(count))
    }

    /// A fix the ticket loop ran: `action` is a catalog action (a closed set), `result` one of `fixResults`.
    func fix(action: String, result: String) {
        registry.makeCounter(name: "fieldmedic_fixes_total", labels: [("action", String(action.prefix(40))), ("result", result)],
                             help: "Fixes run by the ticket loop, by action and result (verified, unverified, failed).").increment()
    }

    func verifiedFix(after seconds: TimeInterval) {
        let milliseconds = Int64(max(0, seconds) * 1000)
        fixSeconds.record(Duration.milliseconds(milliseconds))
    }

    func githubCall(status: Int, rateLimitRemaining: Int?) {
        let label = status == 0 ? "network" : "\(min(5, max(2, status / 100)))xx"
        githubCounter(label).increment()
        if let rateLimitRemaining { githubRateRemaining.set(to: Double(rateLimitRemaining)) }
    }

    /// For the notification outbox: one call per delivery attempt's outcome.
    func notification(channel: String, result: String) {
        notificationCounter(Self.bounded(channel), Self.bounded(result)).increment()
    }

    /// For the alert ingest listener: one call per received alert delivery.
    func ingest(source: String, result: String) {
        ingestCounter(Self.bounded(source), Self.bounded(result)).increment()
    }

    // MARK: Store-derived gauges, read at each scrape

    func refresh(store: any WebStore, now: Date, offlineAfter: TimeInterval, paths: CoordinatorPaths?) async throws {
        var agents = Dictionary(uniqueKeysWithValues: Self.agentStates.map { ($0, 0) })
        for record in try await store.agents() {
            let summary = AgentSummary(record, now: now, offlineAfter: offlineAfter)
            let state = record.state == .active ? (summary.online ? "online" : "offline") : record.state.rawValue
            agents[state, default: 0] += 1
            if let last = record.lastReportAt, record.state == .active {
                registry.makeGauge(name: "fieldmedic_agent_last_report_timestamp_seconds", labels: [("agent", record.name)],
                                   help: "When each enrolled agent's newest report arrived (one series per host).").set(to: last.timeIntervalSince1970)
            }
        }
        for (state, count) in agents { agentsGauge(state).set(to: Double(count)) }
        let counts = try await store.ticketCounts()
        for state in TicketState.allCases { ticketsGauge(state.rawValue).set(to: Double(counts.byState[state.rawValue] ?? 0)) }
        for source in Set(Self.ticketSources).union(counts.bySource.keys) { ticketsBySourceGauge(Self.bounded(source)).set(to: Double(counts.bySource[source] ?? 0)) }
        auditRows.set(to: Double(try await store.auditRowCount()))
        breakerOpen.set(to: try await store.control("breaker") != nil ? 1 : 0)
        fleetPaused.set(to: try await store.control("pause") != nil ? 1 : 0)
        if let paths {
            let bytes = paths.databaseFiles.compactMap { (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? NSNumber }.reduce(0) { $0 + $1.doubleValue }
            storeBytes.set(to: bytes)
        }
        scrapeTimestamp.set(to: now.timeIntervalSince1970)
    }

    // MARK: Series

    private func agentsGauge(_ state: String) -> Gauge {
        registry.makeGauge(name: "fieldmedic_agents", labels: [("state", state)], help: "Agents by state (online, offline, pending, revoked).")
    }

    private func ticketsGauge(_ state: String) -> Gauge {
        registry.makeGauge(name: "fieldmedic_tickets", labels: [("state", state)],
                           help: "Tickets in the store by state; resolved, escalated and healthy are the outcomes.")
    }

    private func ticketsBySourceGauge(_ source: String) -> Gauge {
        registry.makeGauge(name: "fieldmedic_tickets_opened", labels: [("source", source)], help: "Tickets ever opened, by what opened them.")
    }

    private func githubCounter(_ status: String) -> Counter {
        registry.makeCounter(name: "fieldmedic_github_requests_total", labels: [("status", status)], help: "GitHub API calls by status class (network: no answer).")
    }

    private func notificationCounter(_ channel: String, _ result: String) -> Counter {
        registry.makeCounter(name: "fieldmedic_notifications_total", labels: [("channel", channel), ("result", result)], help: "Notifications by channel and result.")
    }

    private func ingestCounter(_ source: String, _ result: String) -> Counter {
        registry.makeCounter(name: "fieldmedic_alerts_ingested_total", labels: [("source", source), ("result", result)], help: "Incoming alert deliveries by source and result.")
    }

    /// Label values from callers: short, and only characters that need no thought.
    static func bounded(_ text: String) -> String {
        let cleaned = String(text.lowercased().prefix(32).map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        return cleaned.isEmpty ? "unknown" : cleaned
    }
}
