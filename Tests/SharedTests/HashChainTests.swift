import Foundation
import Testing
@testable import Shared

@Suite struct HashChainTests {
    struct Row: Encodable { var id: Int64; var text: String; var previous: String }

    func chain(_ texts: [String]) -> [ChainRow] {
        var previous = HashChain.genesis
        return texts.enumerated().map { index, text in
            let canonical = HashChain.canonical(Row(id: Int64(index + 1), text: text, previous: previous))
            let hash = HashChain.link(previous: previous, canonical: canonical)
            defer { previous = hash }
            return ChainRow(id: Int64(index + 1), canonical: canonical, previousHash: previous, hash: hash)
        }
    }

    @Test func intactChainVerifies() {
        let rows = chain(["a", "b", "c"])
        #expect(HashChain.verify(rows) == .intact(ChainHead(count: 3, hash: rows[2].hash)))
        #expect(HashChain.verify([]) == .intact(ChainHead(count: 0, hash: HashChain.genesis)))
    }

    @Test func editedRowIsNamed() {
        var rows = chain(["a", "b", "c"])
        rows[1].canonical = HashChain.canonical(Row(id: 2, text: "B", previous: rows[0].hash))
        guard case .broken(let failure) = HashChain.verify(rows) else { Issue.record("edit not caught"); return }
        #expect(failure.rowID == 2)
        #expect(failure.reason.contains("edited"))
    }

    @Test func deletedRowIsNamed() {
        var rows = chain(["a", "b", "c", "d"])
        rows.remove(at: 1)
        guard case .broken(let failure) = HashChain.verify(rows) else { Issue.record("deletion not caught"); return }
        #expect(failure.rowID == 3)
        #expect(failure.reason.contains("missing"))
    }

    @Test func insertedRowIsCaught() {
        let rows = chain(["a", "b", "c"])
        // An inserted row renumbered into place with a self-consistent hash still breaks the link after it.
        let forgedCanonical = HashChain.canonical(Row(id: 2, text: "forged", previous: rows[0].hash))
        let forged = ChainRow(id: 2, canonical: forgedCanonical, previousHash: rows[0].hash, hash: HashChain.link(previous: rows[0].hash, canonical: forgedCanonical))
        var tampered = [rows[0], forged] + rows[1...].map { row in var r = row; r.id += 1; return r }
        guard case .broken(let failure) = HashChain.verify(tampered) else { Issue.record("insertion not caught"); return }
        #expect(failure.rowID == 3)
        tampered = rows
        tampered.insert(rows[1], at: 1)
        guard case .broken = HashChain.verify(tampered) else { Issue.record("duplicate not caught"); return }
    }
}
