import Foundation

/// Requests and proxy errors (403 on Django's forms, 413, 444, 499, 5xx) per endpoint family over a sliding window
/// of log time, kept in one-minute buckets so that a cycle adds only its new lines.
struct ProxyErrorWindow: Sendable, Equatable {
    struct Key: Sendable, Hashable, Comparable {
        var status: Int
        var family: EndpointFamily
        static func < (a: Key, b: Key) -> Bool { (a.status, a.family) < (b.status, b.family) }
    }

    struct Bucket: Sendable, Equatable {
        var requests: [EndpointFamily: Int] = [:]
        var errors: [Key: Int] = [:]
    }

    var length: TimeInterval
    private(set) var buckets: [Int64: Bucket] = [:]
    /// The newest path seen per error key, as evidence (query strings cut: they carry tokens).
    private(set) var samples: [Key: String] = [:]

    init(length: TimeInterval) {
        self.length = length
    }

    /// The statuses that mean a proxy or upstream problem rather than a client's own mistake.
    static func isProxyError(_ status: Int) -> Bool {
        status == 413 || status == 444 || status == 499 || (500...599).contains(status)
    }

    /// Django's CSRF refusal as nginx logs it: a 403 to a form post on the web pages (login,
    /// admin), where behind an external proxy the Origin's scheme or host does not match the
    /// request Django sees (QFieldCloud #1083, #1201). A 403 from the API is a permission
    /// answer to one user (QField authenticates with a token, which CSRF does not concern).
    static func isCSRFRefusal(_ entry: AccessLogEntry) -> Bool {
        guard entry.status == 403, let method = entry.method?.uppercased() else { return false }
        return !["GET", "HEAD", "OPTIONS", "TRACE"].contains(method) && !entry.path.hasPrefix("/api/")
    }

    /// Counts one request. `host` is QFIELDCLOUD_HOST: a 444 is counted only for QFieldCloud's
    /// own endpoints or when its Host differs from it only in case — scanners that reach
    /// the server by IP are dropped with 444 all day and are no fault.
    mutating func record(_ entry: AccessLogEntry, at time: LogTimestamp, host: String?) {
        let family = entry.family
        let minute = time.seconds / 60
        buckets[minute, default: Bucket()].requests[family, default: 0] += 1
        guard Self.isProxyError(entry.status) || Self.isCSRFRefusal(entry) else { return }
        if entry.status == 444, family == .other {
            guard let logged = entry.host, let host, logged.lowercased() == host.lowercased() else { return }
        }
        let key = Key(status: entry.status, family: family)
        buckets[minute, default: Bucket()].errors[key, default: 0] += 1
        samples[key] = String(entry.path.prefix { $0 != "?" }.prefix(120))
    }

    /// Drops the minutes that have left the window.
    mutating func prune(now: Date) {
        let oldest = Int64((now.timeIntervalSince1970 - length) / 60)
        buckets = buckets.filter { $0.key >= oldest }
        let live = Set(buckets.values.flatMap(\.errors.keys))
        samples = samples.filter { live.contains($0.key) }
    }

    var requests: [EndpointFamily: Int] {
        buckets.values.reduce(into: [:]) { total, bucket in total.merge(bucket.requests, uniquingKeysWith: +) }
    }

    var errors: [Key: Int] {
        buckets.values.reduce(into: [:]) { total, bucket in total.merge(bucket.errors, uniquingKeysWith: +) }
    }
}
