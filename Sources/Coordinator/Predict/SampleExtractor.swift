import Foundation
import Shared

/// One number from one report: `metric` names what (e.g. `disk.used_pct`), `subject` which
/// (a mount, a service, the queue).
struct Sample: Sendable, Equatable {
    var at: Date
    var metric: String
    var subject: String
    var value: Double
}

/// The numbers the trends are computed from, taken out of every health report.
enum SampleExtractor {
    static func samples(_ report: HealthReport) -> [Sample] {
        let at = report.createdAt
        var out: [Sample] = []
        for disk in report.disks ?? [] where disk.totalBytes > 0 {
            out.append(Sample(at: at, metric: "disk.used_pct", subject: disk.mount, value: disk.usedPercent))
            out.append(Sample(at: at, metric: "disk.free_bytes", subject: disk.mount, value: Double(disk.availableBytes)))
            if disk.totalInodes > 0 { out.append(Sample(at: at, metric: "disk.inodes_used_pct", subject: disk.mount, value: disk.inodesUsedPercent)) }
        }
        if let memory = report.host?.memory, memory.totalBytes > 0 {
            out.append(Sample(at: at, metric: "memory.used_pct", subject: "host", value: memory.usedPercent))
        }
        if let queue = report.queue {
            func total(_ status: String) -> Double { Double(queue.counts[status]?.values.reduce(0, +) ?? 0) }
            out.append(Sample(at: at, metric: "queue.pending", subject: "core_job", value: total("pending") + total("queued")))
            out.append(Sample(at: at, metric: "queue.finished", subject: "core_job", value: total("finished")))
            out.append(Sample(at: at, metric: "queue.oldest_pending_s", subject: "core_job", value: queue.oldestPendingSeconds ?? 0))
        }
        for service in report.services ?? [] where !service.oneShot {
            out.append(Sample(at: at, metric: "service.restarts", subject: service.service, value: Double(service.restartCount)))
            out.append(Sample(at: at, metric: "service.running", subject: service.service, value: service.state == "running" ? 1 : 0))
        }
        return out
    }
}

/// Least squares over (seconds, value) points.
struct LinearFit: Sendable, Equatable {
    var slopePerSecond: Double
    var intercept: Double
    var r2: Double
    var count: Int
    var span: TimeInterval

    /// nil for fewer than 3 points or no spread in time.
    static func fit(_ points: [(t: Double, v: Double)]) -> LinearFit? {
        let n = Double(points.count)
        guard points.count >= 3 else { return nil }
        let mt = points.map(\.t).reduce(0, +) / n
        let mv = points.map(\.v).reduce(0, +) / n
        var stt = 0.0, stv = 0.0, svv = 0.0
        for p in points {
            stt += (p.t - mt) * (p.t - mt)
            stv += (p.t - mt) * (p.v - mv)
            svv += (p.v - mv) * (p.v - mv)
        }
        guard stt > 0 else { return nil }
        let slope = stv / stt
        let r2 = svv > 0 ? (stv * stv) / (stt * svv) : 1
        let times = points.map(\.t)
        return LinearFit(slopePerSecond: slope, intercept: mv - slope * mt, r2: r2, count: points.count, span: (times.max() ?? 0) - (times.min() ?? 0))
    }

    func value(at t: Double) -> Double { intercept + slopePerSecond * t }

    /// Seconds from `t` until the line reaches `level`; nil when it never does (flat or falling).
    func secondsUntil(_ level: Double, from t: Double) -> Double? {
        guard slopePerSecond > 0 else { return nil }
        return max(0, (level - value(at: t)) / slopePerSecond)
    }
}
