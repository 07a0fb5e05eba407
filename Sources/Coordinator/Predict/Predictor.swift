import Foundation
import Shared

/// `[predict]` in coordinator.toml.
struct PredictConfig: Sendable, Equatable {
    var enabled = true
    var rawRetention: TimeInterval = 7 * 86_400
    var hourlyRetention: TimeInterval = 365 * 86_400
    /// Disk: the trend over `diskWindow` says full within `diskHorizon` *and* free space is under
    /// `diskFreeBelow` percent *and* both held for `hold` (node-mixin's double condition).
    var diskWindow: TimeInterval = 6 * 3600
    var diskHorizon: TimeInterval = 24 * 3600
    var diskFreeBelow: Double = 40
    /// The action threshold the ETA is also given for (the agent's `disk.high`).
    var diskThreshold: Double = 90
    var hold: TimeInterval = 3600
    /// The last stretch whose own trend must also point at full (within twice the horizon);
    /// 0 turns the check off.
    var diskRecentWindow: TimeInterval = 3600
    /// Queue: pending grows over `queueWindow` while nothing finishes, with at least
    /// `queueMinPending` waiting, held for `queueHold`.
    var queueWindow: TimeInterval = 3600
    var queueMinPending: Double = 5
    var queueHold: TimeInterval = 15 * 60
    /// Crash loop: at least `crashloopRestarts` restarts within `crashloopWindow`.
    var crashloopWindow: TimeInterval = 15 * 60
    var crashloopRestarts: Double = 3
    /// A finding in this many consecutive reports opens a ticket.
    var persistReports = 2
    /// A recurrence within this long after a ticket closed reopens it.
    var reopenWithin: TimeInterval = 86_400
    var evaluateEvery: TimeInterval = 30
    /// Fewer points than this in a window: no prediction.
    var minPoints = 6
}

/// A prediction or a condition (before the hold is applied).
struct Prediction: Sendable, Equatable {
    var finding: Finding
    /// Seconds until the event (disk 100 %), when there is one.
    var eta: TimeInterval?
}

/// Turns sample series into findings: pure, so generated traces can be replayed through it.
struct Predictor: Sendable {
    let config: PredictConfig

    /// The metrics `evaluate` reads and how far back each.
    var inputs: [String: TimeInterval] {
        ["disk.used_pct": config.diskWindow, "queue.pending": config.queueWindow, "queue.finished": config.queueWindow,
         "service.restarts": config.crashloopWindow]
    }

    /// `series`: metric → subject → points (seconds since 1970, value), oldest first.
    func evaluate(series: [String: [String: [(t: Double, v: Double)]]], now: Date) -> [Prediction] {
        var out: [Prediction] = []
        let t = now.timeIntervalSince1970
        for (mount, points) in series["disk.used_pct"] ?? [:] {
            let window = points.filter { $0.t >= t - config.diskWindow }
            guard window.count >= config.minPoints, let fit = LinearFit.fit(window), fit.span >= config.diskWindow / 2,
                  let last = window.last else { continue }
            let free = 100 - last.v
            guard free < config.diskFreeBelow, let eta = fit.secondsUntil(100, from: t), eta <= config.diskHorizon else { continue }
            // The recent trend must agree: after a write that then stays (a backup, a step),
            // the long window still slopes up but the last `recent_window` is flat.
            let recent = window.filter { $0.t >= t - config.diskRecentWindow }
            if config.diskRecentWindow > 0 {
                guard recent.count >= 3, let recentFit = LinearFit.fit(recent),
                      let recentEta = recentFit.secondsUntil(100, from: t), recentEta <= config.diskHorizon * 2 else { continue }
            }
            let toThreshold = fit.secondsUntil(config.diskThreshold, from: t)
            let perHour = fit.slopePerSecond * 3600
            out.append(Prediction(
                finding: Finding(.diskFullPredicted, severity: .warning, subject: mount,
                    message: "\(mount) is \(String(format: "%.1f", last.v)) % full and fills at \(String(format: "%.2f", perHour)) %/h: full in \(DurationText.human(eta))"
                        + (toThreshold.map { $0 > 0 ? ", over \(Int(config.diskThreshold)) % in \(DurationText.human($0))" : "" } ?? ""),
                    evidence: [
                        "eta_full_s": String(Int(eta)), "eta_threshold_s": toThreshold.map { String(Int($0)) } ?? "-",
                        "slope_pct_per_h": String(format: "%.3f", perHour), "r2": String(format: "%.2f", fit.r2),
                        "points": String(fit.count), "window": DurationText.human(config.diskWindow), "used_pct": String(format: "%.1f", last.v),
                    ]),
                eta: eta))
        }
        if let pending = series["queue.pending"]?["core_job"] {
            let window = pending.filter { $0.t >= t - config.queueWindow }
            let finished = (series["queue.finished"]?["core_job"] ?? []).filter { $0.t >= t - config.queueWindow }
            if window.count >= config.minPoints, let fit = LinearFit.fit(window), fit.span >= config.queueWindow / 2, let last = window.last,
               fit.slopePerSecond > 0, last.v >= config.queueMinPending {
                // Old finished jobs get deleted (the count drops while the worker works): count only increases.
                var done = 0.0
                for (a, b) in zip(finished, finished.dropFirst()) where b.v > a.v { done += b.v - a.v }
                if done <= 0 {
                    out.append(Prediction(
                        finding: Finding(.queueBacklogGrowing, severity: .warning, subject: "core_job",
                            message: "\(Int(last.v)) jobs wait and the queue grows by \(String(format: "%.1f", fit.slopePerSecond * 3600))/h while none finished in \(DurationText.human(config.queueWindow)): the worker looks stalled",
                            evidence: ["pending": String(Int(last.v)), "slope_per_h": String(format: "%.2f", fit.slopePerSecond * 3600),
                                       "finished_in_window": String(Int(done)), "r2": String(format: "%.2f", fit.r2)]),
                        eta: nil))
                }
            }
        }
        for (service, points) in series["service.restarts"] ?? [:] {
            let window = points.filter { $0.t >= t - config.crashloopWindow }
            guard window.count >= 2 else { continue }
            // Restart counters reset when a container is recreated: a drop is a reset, and the new value
            // counts the restarts since (as Prometheus' increase() does).
            var restarts = 0.0
            for (a, b) in zip(window, window.dropFirst()) { restarts += b.v >= a.v ? b.v - a.v : b.v }
            if restarts >= config.crashloopRestarts {
                out.append(Prediction(
                    finding: Finding(.serviceCrashloop, severity: .critical, subject: service,
                        message: "\(service) restarted \(Int(restarts)) times in \(DurationText.human(config.crashloopWindow))",
                        evidence: ["restarts": String(Int(restarts)), "window": DurationText.human(config.crashloopWindow),
                                   "history": window.suffix(12).map { "\(WireDate.format(Date(timeIntervalSince1970: $0.t))).\(Int($0.v))" }.joined(separator: " ")]),
                    eta: nil))
            }
        }
        return out.sorted { ($0.finding.code, $0.finding.subject) < ($1.finding.code, $1.finding.subject) }
    }

    /// How long a condition must hold before it counts.
    func hold(for code: String) -> TimeInterval {
        switch code {
        case FindingCode.diskFullPredicted.rawValue: config.hold
        case FindingCode.queueBacklogGrowing.rawValue: config.queueHold
        default: 0
        }
    }
}

/// The hold: a condition fires once it has been true, without a gap, for its duration.
struct HoldTracker: Sendable {
    private(set) var since: [String: Date] = [:]

    /// Updates with the conditions true at `now`; returns those that have held long enough.
    mutating func update(_ predictions: [Prediction], now: Date, hold: (String) -> TimeInterval) -> [Prediction] {
        var current: [String: Date] = [:]
        var firing: [Prediction] = []
        for p in predictions {
            let key = p.finding.code + "|" + p.finding.subject
            let start = since[key] ?? now
            current[key] = start
            if now.timeIntervalSince(start) >= hold(p.finding.code) { firing.append(p) }
        }
        since = current
        return firing
    }

    init(since: [String: Date] = [:]) { self.since = since }

    /// Starts the hold of `key` again at `now` (its evidence predates a fix).
    mutating func restart(_ key: String, at now: Date) { since[key] = now }
}
