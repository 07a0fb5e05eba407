import Foundation

/// One request from nginx's access log, in either format QFieldCloud's nginx writes to its
/// stdout: the `combined` default (the port-80 server) or QFieldCloud's `json-logger` (the
/// port-443 server: `{"ts":…,"status":413,…,"uri":"/api/v1/files/…","host":"…"}`).
struct AccessLogEntry: Sendable, Equatable {
    var status: Int
    var path: String
    /// `$http_host`; only the json-logger format has it.
    var host: String?
    /// The request's method; nil when nginx could not parse the request line.
    var method: String? = nil

    var family: EndpointFamily { EndpointFamily(path: path[...]) }

    /// nil for lines that are no access-log line (nginx's own notices, error-log lines).
    static func parse(_ line: Substring) -> AccessLogEntry? {
        let trimmed = line.drop { $0 == " " }
        if trimmed.first == "{" { return parseJSON(trimmed) }
        return parseCombined(trimmed)
    }

    /// `1.2.3.4 - user [30/Nov/2026:02:09:10 +0000] "POST /api/v1/files/x/ HTTP/1.1" 413 183 "-" "QField/3.4"`
    static func parseCombined(_ line: Substring) -> AccessLogEntry? {
        guard let bracket = line.firstIndex(of: "]"),
              let open = line[bracket...].firstIndex(of: "\"") else { return nil }
        let afterOpen = line.index(after: open)
        // The request line is escaped by nginx (\x22), so the next quote closes it.
        guard let close = line[afterOpen...].firstIndex(of: "\"") else { return nil }
        let request = line[afterOpen..<close].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        // A request nginx could not parse is logged as "-" or raw bytes: no path to classify.
        let path = request.count >= 2 ? request[1] : "-"
        let method = request.count >= 2 ? String(request[0]) : nil
        let rest = line[line.index(after: close)...].drop { $0 == " " }
        guard let status = Int(rest.prefix { $0 != " " }), (100...999).contains(status) else { return nil }
        return AccessLogEntry(status: status, path: String(path), host: nil, method: method)
    }

    static func parseJSON(_ line: Substring) -> AccessLogEntry? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let status = object["status"] as? Int else { return nil }
        let host = object["host"] as? String
        return AccessLogEntry(
            status: status, path: object["uri"] as? String ?? "-", host: host?.isEmpty == true ? nil : host, method: object["method"] as? String)
    }
}
