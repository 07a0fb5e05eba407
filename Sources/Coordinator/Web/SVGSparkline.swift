import Foundation

/// A sparkline as inline SVG from stored samples: at most `width` points (bucket means), so
/// a week of minute samples stays a few hundred bytes. Text in it is escaped here, since the
/// template inserts it unescaped.
enum SVGSparkline {
    static let width = 120
    static let height = 24

    static func render(_ points: [(t: Double, v: Double)], from start: Double, to end: Double, label: String) -> String {
        guard end > start else { return "—" }
        var sums = [Double](repeating: 0, count: width)
        var counts = [Int](repeating: 0, count: width)
        for p in points where p.t >= start && p.t <= end && p.v.isFinite {
            let i = min(width - 1, max(0, Int((p.t - start) / (end - start) * Double(width))))
            sums[i] += p.v
            counts[i] += 1
        }
        let means = (0..<width).compactMap { i in counts[i] > 0 ? (x: i, v: sums[i] / Double(counts[i])) : nil }
        guard let lo = means.map(\.v).min(), let hi = means.map(\.v).max() else { return "no data" }
        let span = hi - lo
        let coordinates = means.map { m -> String in
            let y = span > 0 ? Double(height - 2) - (m.v - lo) / span * Double(height - 4) : Double(height) / 2
            return "\(m.x),\(String(format: "%.1f", y))"
        }
        let title = HTML.escape("\(label): \(String(format: "%.1f", lo)) to \(String(format: "%.1f", hi))")
        // One point alone would draw nothing: repeat it so the line shows as a dot-wide dash.
        let line = coordinates.count == 1 ? coordinates[0] + " " + coordinates[0].replacingOccurrences(of: "^\\d+", with: "\(means[0].x + 1)", options: .regularExpression) : coordinates.joined(separator: " ")
        return "<svg class=\"spark\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(title)\"><title>\(title)</title><polyline points=\"\(line)\"/></svg>"
    }
}
