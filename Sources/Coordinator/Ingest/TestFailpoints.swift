import Foundation
import Shared

/// Test-only failpoints: `FIELDMEDIC_FAILPOINTS=ingest.hold-after-store` in `serve`'s
/// environment, read once at start. They exist so an end-to-end test can stop the real binary
/// at an exact point without sleeping (e.g. "stored and answered, not yet a ticket", then
/// SIGKILL). Never read from coordinator.toml or any request: only whoever starts the process
/// can set one. An unknown name stops `serve` at start, so a typo never passes silently.
struct TestFailpoints: Sendable, Equatable {
    static let variable = "FIELDMEDIC_FAILPOINTS"

    enum Point: String, Sendable, CaseIterable {
        /// The ingest listener stores and answers alerts, but `IngestService` never turns a
        /// stored alert into a ticket change until the coordinator restarts without it.
        case ingestHoldAfterStore = "ingest.hold-after-store"
    }

    var active: Set<Point> = []

    func has(_ point: Point) -> Bool { active.contains(point) }

    /// Comma-separated names; empty or unset is none.
    static func parse(_ text: String?) throws -> TestFailpoints {
        var points = TestFailpoints()
        for raw in (text ?? "").split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            guard let point = Point(rawValue: name) else {
                throw UsageError("\(variable): unknown failpoint \"\(name)\" (known: \(Point.allCases.map(\.rawValue).joined(separator: ", "))); "
                    + "failpoints are for tests only: unset \(variable) to run normally")
            }
            points.active.insert(point)
        }
        return points
    }

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TestFailpoints {
        try parse(environment[variable])
    }
}
