import Crypto
import Foundation

/// The tamper-evident chain behind the coordinator's audit log and the agent's journal:
/// each row stores SHA-256(previous row's hash ‖ canonical encoding of the row).
///
/// ```swift
/// let hash = HashChain.link(previous: HashChain.genesis, canonical: row.canonical)
/// let verdict = HashChain.verify(rows)
/// ```
public enum HashChain {
    /// The "previous hash" of the first row.
    public static let genesis = String(repeating: "0", count: 64)

    public static func link(previous: String, canonical: Data) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(previous.utf8))
        hasher.update(data: canonical)
        return Hex.encode(hasher.finalize())
    }

    /// Canonical bytes of a row: JSON with sorted keys. Rows hold only strings and integers,
    /// so re-encoding what was read back gives the same bytes.
    public static func canonical<T: Encodable>(_ row: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(row)) ?? Data()
    }

    /// Checks ids run 1, 2, 3… without gaps, each `previous` equals the row before's hash,
    /// and each hash matches the row's content.
    public static func verify<S: Sequence>(_ rows: S) -> ChainVerdict where S.Element == ChainRow {
        var expectedID: Int64 = 1
        var previous = genesis
        var count: Int64 = 0
        for row in rows {
            if row.id != expectedID {
                return .broken(
                    ChainBreak(
                        rowID: row.id,
                        reason: row.id > expectedID
                            ? "row \(expectedID) is missing (deleted?) before row \(row.id)"
                            : "row id \(row.id) appears out of order (inserted?)"))
            }
            if row.previousHash != previous {
                return .broken(ChainBreak(rowID: row.id, reason: "its previous-hash does not match row \(row.id - 1)'s hash (a row was inserted, deleted or edited)"))
            }
            let expected = link(previous: previous, canonical: row.canonical)
            if expected != row.hash {
                return .broken(ChainBreak(rowID: row.id, reason: "its content does not match its hash (the row was edited)"))
            }
            previous = row.hash
            expectedID += 1
            count += 1
        }
        return .intact(ChainHead(count: count, hash: previous))
    }
}

/// One stored row as the verifier sees it.
public struct ChainRow: Sendable {
    public var id: Int64
    public var canonical: Data
    public var previousHash: String
    public var hash: String

    public init(id: Int64, canonical: Data, previousHash: String, hash: String) {
        self.id = id
        self.canonical = canonical
        self.previousHash = previousHash
        self.hash = hash
    }
}

public struct ChainBreak: Sendable, Equatable, CustomStringConvertible {
    public var rowID: Int64
    public var reason: String
    public var description: String { "row \(rowID): \(reason)" }
}

public enum ChainVerdict: Sendable, Equatable {
    case intact(ChainHead)
    case broken(ChainBreak)
}
