import Foundation
import Shared

/// What `hosts show` adds: each trend's fit and ETA, and 24 h sparklines.
struct TrendLine: Codable, Sendable, Equatable {
    var metric: String
    var subject: String
    var last: Double
    var slopePerHour: Double
    var r2: Double
    var points: Int
    var window: TimeInterval
    var etaFull: TimeInterval?
    var etaThreshold: TimeInterval?
    /// Time between the first and last point of the fit (nil from older coordinators).
    var span: TimeInterval?

    /// Less than this, and no time-to-full is extrapolated: nine points from one busy
    /// build said "full in 2h 22m" for a 252 GB disk at 18 %.
    static let minimumPoints = 30
    static let minimumSpan: TimeInterval = 3600
    static let minimumR2 = 0.5

    /// Why the fit is too weak to extrapolate from; nil when it is strong enough.
    var tooLittleData: String? {
        let covered = span ?? 0
        if points < Self.minimumPoints || covered < Self.minimumSpan {
            return "too little data (\(points) points over \(DurationText.human(covered)); needs \(Self.minimumPoints) over \(DurationText.human(Self.minimumSpan)))"
        }
        if r2 < Self.minimumR2 { return String(format: "no steady trend (r² %.2f)", r2) }
        return nil
    }
}

struct Sparkline: Codable, Sendable, Equatable {
    var metric: String
    var subject: String
    var min: Double
    var max: Double
    var line: String
}

struct HostTrends: Codable, Sendable, Equatable {
    var trends: [TrendLine]
    var sparklines: [Sparkline]
    var predictions: [Finding]

    static let bars: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    static func make(series: [String: [String: [(t: Double, v: Double)]]], config: PredictConfig, now: Date) -> HostTrends {
        let t = now.timeIntervalSince1970
        var trends: [TrendLine] = []
        func line(_ metric: String, _ window: TimeInterval, full: Double?, threshold: Double?) {
            for (subject, points) in (series[metric] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let recent = points.filter { $0.t >= t - window }
                guard let fit = LinearFit.fit(recent), let last = recent.last, let first = recent.first else { continue }
                var trend = TrendLine(
                    metric: metric, subject: subject, last: last.v, slopePerHour: fit.slopePerSecond * 3600, r2: fit.r2, points: fit.count,
                    window: window, etaFull: full.flatMap { fit.secondsUntil($0, from: t) }, etaThreshold: threshold.flatMap { fit.secondsUntil($0, from: t) },
                    span: last.t - first.t)
                if trend.tooLittleData != nil {
                    // Said so, not extrapolated.
                    trend.etaFull = nil
                    trend.etaThreshold = nil
                }
                trends.append(trend)
            }
        }
        line("disk.used_pct", config.diskWindow, full: 100, threshold: config.diskThreshold)
        line("queue.pending", config.queueWindow, full: nil, threshold: nil)
        var sparklines: [Sparkline] = []
        for metric in ["disk.used_pct", "queue.pending"] {
            for (subject, points) in (series[metric] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let day = points.filter { $0.t >= t - 86_400 }
                guard !day.isEmpty else { continue }
                var buckets = [[Double]](repeating: [], count: 24)
                for p in day { buckets[min(23, max(0, Int((p.t - (t - 86_400)) / 3600)))].append(p.v) }
                let means = buckets.map { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) }
                let values = means.compactMap { $0 }
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                let text = String(means.map { mean -> Character in
                    guard let mean else { return " " }
                    if hi == lo { return bars[0] }
                    return bars[min(7, Int((mean - lo) / (hi - lo) * 7.999))]
                })
                sparklines.append(Sparkline(metric: metric, subject: subject, min: lo, max: hi, line: text))
            }
        }
        return HostTrends(trends: trends, sparklines: sparklines, predictions: Predictor(config: config).evaluate(series: series, now: now).map(\.finding))
    }

    func render() -> String {
        var out: [String] = []
        if !trends.isEmpty {
            out.append(TextTable.render(
                ["TREND", "SUBJECT", "NOW", "SLOPE/H", "R²", "POINTS", "FULL IN", "THRESHOLD IN", "CONFIDENCE"],
                trends.map { tr in
                    [tr.metric, tr.subject, String(format: "%.1f", tr.last), String(format: "%+.3f", tr.slopePerHour), String(format: "%.2f", tr.r2),
                     String(tr.points), tr.etaFull.map { DurationText.human($0) } ?? "—", tr.etaThreshold.map { DurationText.human($0) } ?? "—",
                     tr.tooLittleData ?? "ok"]
                }))
        }
        if !sparklines.isEmpty {
            out.append("")
            out.append("last 24 h (one bar per hour):")
            for s in sparklines {
                out.append("  \(s.metric) \(s.subject)  \(s.line)  \(String(format: "%.1f", s.min))…\(String(format: "%.1f", s.max))")
            }
        }
        if !predictions.isEmpty {
            out.append("")
            out.append("predicted now (before the hold):")
            for p in predictions { out.append("  \(p.code) on \(p.subject): \(p.message)") }
        }
        return out.isEmpty ? "No trends yet (they need a few reports)." : out.joined(separator: "\n")
    }
}
