import Foundation
import Shared

/// A Docker log timestamp to the nanosecond (`2026-11-30T02:09:10.123456789Z`), kept exact:
/// a `Double` of seconds since 1970 cannot hold nanoseconds, and the cursor must not re-read
/// or skip a line because of rounding.
struct LogTimestamp: Sendable, Hashable, Comparable {
    var seconds: Int64
    var nanoseconds: Int

    /// RFC 3339 as the engine writes it with `timestamps=1` (UTC `Z` or an offset).
    init?(_ text: Substring) {
        let u = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= u.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                guard (48...57).contains(u[i]) else { return nil }
                value = value * 10 + Int(u[i] - 48)
            }
            return value
        }
        guard u.count >= 20, u[4] == 45, u[7] == 45, u[10] == 84, u[13] == 58, u[16] == 58,
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
              let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2) else { return nil }
        var index = 19
        var nanos = 0
        if u[index] == 46 {  // "."
            index += 1
            var scale = 100_000_000
            while index < u.count, (48...57).contains(u[index]) {
                nanos += Int(u[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < u.count else { return nil }
        var offset = 0
        if u[index] == 43 || u[index] == 45 {  // "+hh:mm" / "-hh:mm"
            guard let h = digits(index + 1, 2), let m = digits(index + 4, 2) else { return nil }
            offset = (h * 3600 + m * 60) * (u[index] == 45 ? -1 : 1)
        } else if u[index] != 90 {  // "Z"
            return nil
        }
        let days = CivilDate.daysSince1970(year: year, month: month, day: day)
        seconds = Int64(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
        nanoseconds = nanos
    }

    init(seconds: Int64, nanoseconds: Int) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    init(_ date: Date) {
        let total = date.timeIntervalSince1970
        seconds = Int64(total.rounded(.down))
        nanoseconds = Int(((total - Double(seconds)) * 1e9).rounded(.down))
    }

    var date: Date { Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9) }

    /// The Engine API's `since` form: "1790000000.123456789".
    var sinceParameter: String {
        let fraction = String(nanoseconds)
        return "\(seconds).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"
    }

    static func < (a: LogTimestamp, b: LogTimestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
}
