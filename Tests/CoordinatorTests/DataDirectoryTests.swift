import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// `serve` starts only on a whole data directory: a CA without its database is refused with
/// the way out, never papered over with a fresh, empty database.
@Suite struct DataDirectoryTests {
    final class Directory {
        let paths: CoordinatorPaths
        init() throws {
            let root = NSTemporaryDirectory() + "fieldmedic-datadir-" + UUID().uuidString
            paths = CoordinatorPaths(dataDir: root)
            try FileManager.default.createDirectory(atPath: paths.pkiDir, withIntermediateDirectories: true)
            try SecretFile.write("not really a key\n", to: paths.caKey)
        }
        deinit { try? FileManager.default.removeItem(atPath: paths.dataDir) }
    }

    @Test func aDeletedDatabaseBesideTheCAIsRefused() throws {
        let d = try Directory()
        #expect(throws: DataDirectoryError.databaseMissing(database: d.paths.database, caKey: d.paths.caKey)) {
            try SQLiteCoordinatorStore.openInitialised(d.paths)
        }
        #expect(throws: DataDirectoryError.databaseMissing(database: d.paths.database, caKey: d.paths.caKey)) {
            try SQLiteCoordinatorStore.checkInitialised(d.paths)
        }
        #expect(!FileManager.default.fileExists(atPath: d.paths.database))
        #expect(DataDirectoryError.databaseMissing(database: d.paths.database, caKey: d.paths.caKey).description.contains("Restore"))
    }

    @Test func anEmptyDatabaseBesideTheCAIsRefused() throws {
        let d = try Directory()
        _ = FileManager.default.createFile(atPath: d.paths.database, contents: Data())
        #expect(throws: DataDirectoryError.databaseEmpty(database: d.paths.database, caKey: d.paths.caKey)) {
            try SQLiteCoordinatorStore.checkInitialised(d.paths)
        }
        #expect(throws: DataDirectoryError.databaseEmpty(database: d.paths.database, caKey: d.paths.caKey)) {
            try SQLiteCoordinatorStore.openInitialised(d.paths)
        }
    }

    @Test func anInitialisedDirectoryOpens() async throws {
        let d = try Directory()
        try await SQLiteCoordinatorStore(path: d.paths.database).appendAudit(AuditEntry(actor: "operator", action: "coordinator.initialised", subject: d.paths.dataDir))
        _ = try SQLiteCoordinatorStore.openInitialised(d.paths)
        try SQLiteCoordinatorStore.checkInitialised(d.paths)
    }

    @Test func anEmptyAuditLogIsNotIntact() throws {
        #expect(throws: OperationalError.self) {
            try AuditCommand.Verify.verdict(.intact(ChainHead(count: 0, hash: HashChain.genesis)), database: "db")
        }
        #expect(try AuditCommand.Verify.verdict(.intact(ChainHead(count: 3, hash: "ab")), database: "db").contains("3 rows"))
    }
}
