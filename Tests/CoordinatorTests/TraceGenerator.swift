import Foundation
@testable import Coordinator

/// The series shape `Predictor.evaluate` takes: metric → subject → (t, v), oldest first.
typealias PredictSeries = [String: [String: [(t: Double, v: Double)]]]

/// SplitMix64: a small seeded generator, so every generated trace is the same on every run.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }
    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    /// Poisson by Knuth's method (small means only).
    mutating func poisson(_ mean: Double) -> Int {
        let limit = exp(-mean)
        var k = 0, p = unit()
        while p > limit { k += 1; p *= unit() }
        return k
    }
}

/// The ground truth of a trace: the condition `code`/`subject` starts to be true at `at`.
struct TraceEvent: Sendable {
    var code: String
    var subject: String
    /// Disk: the moment it reaches 100 %. Queue: the worker stalls. Crash loop: the first crash of the loop.
    var at: Double
    /// Firings of this code that start up to `until` (and, for a disk, no earlier than the horizon plus
    /// the hold before `at`) belong to the event; others are false alarms.
    var until: Double
}

enum TraceKind: String, CaseIterable, Sendable {
    case fill3d = "disk-fill-3d"
    case fill10d = "disk-fill-10d"
    case fill20d = "disk-fill-20d"
    case sawtoothDaily = "periodic-daily-45to60"
    case sawtoothDailyHigh = "periodic-daily-62to74"
    case sawtooth6h = "periodic-6h-60to70"
    case burst6h = "periodic-6h-burst-to72"
    case backupDaily = "periodic-daily-backup-3h-to80"
    case noisyFlat = "disk-noisy-flat"
    case stepChange = "disk-step-plus15"
    case restartsIsolated = "restarts-isolated"
    case crashLoop = "crashloop"
    case queueBusy = "queue-busy"
    case queueStalled = "queue-stalled"

    var isPeriodic: Bool { rawValue.hasPrefix("periodic-") }
    /// The periodic kinds the "≤ 1 false alarm per host-month" target is asserted on;
    /// `backupDaily` is the boundary case (a steep daily write that stays high for longer than the hold).
    var inFalseAlarmTarget: Bool { isPeriodic }
    var isSteadyFill: Bool { self == .fill3d || self == .fill10d || self == .fill20d }
}

struct Trace: Sendable {
    var kind: TraceKind
    var host: Int
    var start: Double
    var end: Double
    var series: PredictSeries
    var event: TraceEvent?
}

/// Deterministic generated traces at 1-minute samples, with their ground truth.
enum TraceGenerator {
    /// 2027-01-01 00:00:00 UTC: every generated trace starts here.
    static let epoch: Double = 1_798_761_600
    static let step: Double = 60
    static let day: Double = 86_400

    static func seed(_ kind: TraceKind, host: Int) -> UInt64 {
        let k = UInt64(TraceKind.allCases.firstIndex(of: kind)!)
        return 0xF1E1_D3ED_1C00_0000 &+ k &* 1_000_003 &+ UInt64(host)
    }

    /// Samples `f(minute index, t)` every minute for `minutes` minutes from `start`.
    static func sample(from start: Double = epoch, minutes: Int, _ f: (Int, Double) -> Double) -> [(t: Double, v: Double)] {
        var out: [(t: Double, v: Double)] = []
        out.reserveCapacity(minutes)
        for i in 0..<minutes {
            let t = start + Double(i) * step
            out.append((t, f(i, t)))
        }
        return out
    }

    static func clampPct(_ v: Double) -> Double { min(100, max(0, v)) }

    static func trace(_ kind: TraceKind, host: Int, days: Int = 30) -> Trace {
        var rng = SplitMix64(seed: seed(kind, host: host))
        let start = epoch, minutes = days * 1440
        let end = start + Double(minutes - 1) * step
        var series: PredictSeries = [:]
        var event: TraceEvent?
        switch kind {
        case .fill3d, .fill10d, .fill20d:
            // Flat around `level` until `fillStart`, then a steady fill (50 % in `fillDays`, a bit faster by day),
            // clamped at 100 % once full.
            let fillDays: Double = kind == .fill3d ? 3 : kind == .fill10d ? 10 : 20
            let level = rng.uniform(45, 55)
            let fillStart = start + rng.uniform(1, 5) * day
            let perSecond = 50 / (fillDays * day)
            let phase = rng.uniform(0, day)
            // Integral of perSecond * (1 + 0.5 sin(2πt/day)): the mean rate is perSecond.
            func filled(_ t: Double) -> Double {
                let dt = max(0, t - fillStart)
                let wave = 0.5 * day / (2 * .pi) * (cos(2 * .pi * (fillStart + phase) / day) - cos(2 * .pi * (fillStart + dt + phase) / day))
                return perSecond * (dt + wave)
            }
            // Ground truth: the first sample that reaches 100 % (noise-free).
            var full = end
            var t = fillStart
            while t <= end { if level + filled(t) >= 100 { full = t; break }; t += step }
            series["disk.used_pct"] = ["/": sample(minutes: minutes) { _, t in clampPct(level + filled(t) + 0.1 * rng.gaussian()) }]
            event = TraceEvent(code: "disk.full_predicted", subject: "/", at: full, until: end)
        case .sawtoothDaily, .sawtoothDailyHigh, .sawtooth6h:
            // Accumulates linearly for the period less 10 minutes, then a clean-up drops it back to the base.
            let period: Double = kind == .sawtooth6h ? 6 * 3600 : day
            let (base, amplitude): (Double, Double) = switch kind {
            case .sawtoothDaily: (rng.uniform(44, 46), rng.uniform(13, 16))
            case .sawtoothDailyHigh: (rng.uniform(61, 63), rng.uniform(11, 13))
            default: (rng.uniform(59, 61), rng.uniform(9, 11))
            }
            let phase = rng.uniform(0, period), cleanup = 600.0
            series["disk.used_pct"] = ["/": sample(minutes: minutes) { _, t in
                let x = (t - start + phase).truncatingRemainder(dividingBy: period)
                let rise = period - cleanup
                let v = x < rise ? base + amplitude * x / rise : base + amplitude * (1 - (x - rise) / cleanup)
                return clampPct(v + 0.1 * rng.gaussian())
            }]
        case .burst6h, .backupDaily:
            // A write burst (`fill` long) that stays for `stay`, then a clean-up over 10 minutes, every `period`.
            let burst = kind == .burst6h
            let period: Double = burst ? 6 * 3600 : day
            let base = burst ? rng.uniform(50, 54) : rng.uniform(52, 56)
            let amplitude = burst ? rng.uniform(14, 18) : rng.uniform(22, 25)
            let fill: Double = burst ? 1800 : 3600, stay: Double = burst ? 1200 : 3 * 3600, cleanup = 600.0
            let phase = rng.uniform(0, period)
            series["disk.used_pct"] = ["/": sample(minutes: minutes) { _, t in
                let x = (t - start + phase).truncatingRemainder(dividingBy: period)
                let v: Double = if x < fill { base + amplitude * x / fill }
                    else if x < fill + stay { base + amplitude }
                    else if x < fill + stay + cleanup { base + amplitude * (1 - (x - fill - stay) / cleanup) }
                    else { base }
                return clampPct(v + 0.1 * rng.gaussian())
            }]
        case .noisyFlat:
            // A high, flat disk with correlated noise (AR(1), σ ≈ 1.5 %, ~1.5 h memory) and jitter.
            let level = rng.uniform(55, 80)
            var ar = 0.0
            series["disk.used_pct"] = ["/": sample(minutes: minutes) { _, _ in
                ar = 0.989 * ar + 0.22 * rng.gaussian()
                return clampPct(level + ar + 0.3 * rng.gaussian())
            }]
        case .stepChange:
            // A one-off jump of +15 % over 5 minutes (a restore, a big upload), flat before and after.
            let level = rng.uniform(45, 60)
            let jump = start + rng.uniform(5, 25) * day
            series["disk.used_pct"] = ["/": sample(minutes: minutes) { _, t in
                clampPct(level + 15 * min(1, max(0, (t - jump) / 300)) + 0.1 * rng.gaussian())
            }]
        case .restartsIsolated, .crashLoop:
            // worker_wrapper: a few isolated restarts (and sometimes two close together), the container
            // recreated once or twice (the counter drops to 0); in `crashLoop`, a loop of restarts every
            // 1–5 minutes for 2–6 hours, recreated once 20 minutes in. `app` never restarts.
            var restartAt: [Int] = []
            for _ in 0..<Int(rng.uniform(2, 7)) { restartAt.append(Int(rng.uniform(0, Double(minutes)))) }
            if rng.unit() < 0.5 { let m = Int(rng.uniform(0, Double(minutes - 20))); restartAt += [m, m + Int(rng.uniform(3, 10))] }
            var resets = (0..<Int(rng.uniform(1, 3))).map { _ in Int(rng.uniform(0, Double(minutes))) }
            if kind == .crashLoop {
                let loopStart = Int(rng.uniform(5, 25) * 1440)
                let loopEnd = loopStart + Int(rng.uniform(2, 6) * 60)
                restartAt.removeAll { abs($0 - loopStart) < 24 * 60 }
                var m = loopStart
                while m < loopEnd { restartAt.append(m); m += Int(rng.uniform(1, 6)) }
                resets.append(loopStart + 20)
                event = TraceEvent(code: "service.crashloop", subject: "worker_wrapper", at: start + Double(loopStart) * step,
                                   until: start + Double(loopEnd) * step + 3600)
            }
            var perMinute = [Int](repeating: 0, count: minutes)
            for m in restartAt where m >= 0 && m < minutes { perMinute[m] += 1 }
            var isReset = [Bool](repeating: false, count: minutes)
            for m in resets where m >= 0 && m < minutes { isReset[m] = true }
            var counter = Double(Int(rng.uniform(0, 4)))
            series["service.restarts"] = [
                "worker_wrapper": sample(minutes: minutes) { i, _ in
                    if isReset[i] { counter = 0 }
                    counter += Double(perMinute[i])
                    return counter
                },
                "app": sample(minutes: minutes) { _, _ in 1 },
            ]
        case .queueBusy, .queueStalled:
            // Jobs arrive by day (0.4/min, 07–19 h) and a little by night, with a burst of 60–150 jobs in
            // 30–60 minutes every few days; one worker finishes ~0.7/min while there is work. Old finished
            // jobs are purged at 03:00 (finished drops), and now and then in the day (a project deleted).
            // `queueStalled`: from a moment in working hours the worker finishes nothing.
            var bursts: [(from: Int, to: Int, rate: Double)] = []
            var d = rng.uniform(0.5, 3)
            while d < Double(days) {
                let from = Int(d * 1440), length = Int(rng.uniform(30, 60))
                bursts.append((from, from + length, rng.uniform(60, 150) / Double(length)))
                d += rng.uniform(1.5, 4)
            }
            let midDayPurges = (0..<Int(rng.uniform(0, 4))).map { _ in Int(rng.uniform(0, Double(minutes))) }
            var stall = Int.max
            if kind == .queueStalled {
                stall = Int(rng.uniform(5, 25)) * 1440 + Int(rng.uniform(8, 16) * 60)
                event = TraceEvent(code: "queue.backlog_growing", subject: "core_job", at: start + Double(stall) * step, until: end)
            }
            var pending = 0, finished = Int(rng.uniform(200, 2000))
            var pendingOut: [(t: Double, v: Double)] = [], finishedOut: [(t: Double, v: Double)] = []
            pendingOut.reserveCapacity(minutes); finishedOut.reserveCapacity(minutes)
            for i in 0..<minutes {
                let hour = (i % 1440) / 60
                var rate = (7..<19).contains(hour) ? 0.4 : 0.03
                for b in bursts where b.from <= i && i < b.to { rate += b.rate }
                pending += rng.poisson(rate)
                if i < stall { let done = min(pending, rng.poisson(0.7)); pending -= done; finished += done }
                if i % 1440 == 180 { finished -= finished * 8 / 10 }
                if midDayPurges.contains(i) { finished -= min(finished, 50) }
                let t = start + Double(i) * step
                pendingOut.append((t, Double(pending))); finishedOut.append((t, Double(finished)))
            }
            series["queue.pending"] = ["core_job": pendingOut]
            series["queue.finished"] = ["core_job": finishedOut]
        }
        return Trace(kind: kind, host: host, start: start, end: end, series: series, event: event)
    }
}
