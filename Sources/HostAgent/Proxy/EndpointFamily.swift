import Foundation

/// Which part of QFieldCloud a request was for: the parts that fail differently (uploads hit
/// body limits, packages and deltas hit timeouts) and that users name in their reports.
enum EndpointFamily: String, Sendable, CaseIterable, Comparable {
    case files, packages, deltas, status, other

    /// `/api/v1/files/…`, `…/packages/…`, `…/deltas/…`, `/api/v1/status/`; the query is ignored.
    init(path: Substring) {
        let path = path.prefix { $0 != "?" }
        if path.hasPrefix("/api/v1/status") {
            self = .status
        } else if path.contains("/deltas/") || path.hasSuffix("/deltas") {
            self = .deltas
        } else if path.contains("/packages/") || path.hasSuffix("/packages") {
            self = .packages
        } else if path.hasPrefix("/api/v1/files/") || path == "/api/v1/files" {
            self = .files
        } else {
            self = .other
        }
    }

    static func < (a: EndpointFamily, b: EndpointFamily) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
