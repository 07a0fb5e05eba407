/// A chain head written down where the database's writer cannot change it (another host, a
/// ticket, a printout), as `ROW:HASH`. Whoever rewrites a row can recompute every hash after
/// it, and the chain verifies again; it can no longer have HASH at ROW.
///
/// ```swift
/// let anchor = AuditAnchor("1042:9f86d081…")!
/// let problems = AuditAnchor.mismatches([anchor]) { row in try store.auditHash(row: row) }
/// ```
public struct AuditAnchor: Sendable, Equatable, CustomStringConvertible {
    public var row: Int64
    public var hash: String

    public init(row: Int64, hash: String) {
        self.row = row
        self.hash = hash
    }

    /// `ROW:HASH` or `ROW HASH` (64 hex digits); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
        guard parts.count == 2, let row = Int64(parts[0]), row > 0 else { return nil }
        let hash = parts[1].lowercased()
        guard hash.utf8.count == 64, hash.allSatisfy(\.isHexDigit) else { return nil }
        self.init(row: row, hash: hash)
    }

    public var description: String { "\(row):\(hash)" }

    /// Why each anchor the stored chain does not hold fails; empty when all hold.
    public static func mismatches(_ anchors: [AuditAnchor], hashAt: (Int64) throws -> String?) rethrows -> [String] {
        try anchors.compactMap { anchor in
            guard let stored = try hashAt(anchor.row) else {
                return "row \(anchor.row) named by anchor \(anchor) is missing (rows were deleted)"
            }
            return stored == anchor.hash ? nil : "row \(anchor.row) has hash \(stored), but anchor \(anchor) was written down for it (the chain was rewritten)"
        }
    }
}
