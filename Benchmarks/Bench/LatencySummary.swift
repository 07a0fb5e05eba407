/// Percentiles of recorded latencies (nanoseconds), by sorting every sample: a 20 s run at a
/// few thousand requests per second is well under a million samples.
struct LatencySummary: Sendable {
    let count: Int
    let meanMs: Double
    let p50Ms: Double
    let p90Ms: Double
    let p99Ms: Double
    let p999Ms: Double
    let maxMs: Double

    init(nanoseconds samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }
        /// Nearest-rank percentile: the smallest sample with at least `p` of them at or below it.
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return ms(sorted[min(max(rank, 1), sorted.count) - 1])
        }
        meanMs = sorted.isEmpty ? 0 : ms(sorted.reduce(0, +)) / Double(sorted.count)
        p50Ms = percentile(0.50)
        p90Ms = percentile(0.90)
        p99Ms = percentile(0.99)
        p999Ms = percentile(0.999)
        maxMs = sorted.last.map(ms) ?? 0
    }
}
