import Foundation
import GRDB
import Shared

/// Why `serve` refuses a data directory that is only half there (D6): a CA without its
/// database would silently start an empty fleet and an empty, "intact" audit log.
enum DataDirectoryError: Error, CustomStringConvertible, Equatable {
    case databaseMissing(database: String, caKey: String)
    case databaseEmpty(database: String, caKey: String)
    case notInitialised(caKey: String)

    var description: String {
        switch self {
        case .databaseMissing(let database, let caKey):
            return "the database \(database) is missing, but this data directory has a CA (\(caKey)): starting would forget every enrolled agent and the audit log. Restore \(database) from a backup; to start over instead, move the data directory away and run `fieldmedic-coordinator init` (every agent must enroll again)"
        case .databaseEmpty(let database, let caKey):
            return "the database \(database) holds no audit log (not even the initialisation), but this data directory has a CA (\(caKey)): it was replaced or emptied. Restore it from a backup; to start over instead, move the data directory away and run `fieldmedic-coordinator init` (every agent must enroll again)"
        case .notInitialised(let caKey):
            return "no CA at \(caKey): this data directory is not initialised; run `fieldmedic-coordinator init --data-dir DIR` first"
        }
    }
}

extension SQLiteCoordinatorStore {
    /// Opens the store of an initialised data directory for `serve`: the CA and the database
    /// with its audit log must both be there, or neither is created.
    static func openInitialised(_ paths: CoordinatorPaths) throws -> SQLiteCoordinatorStore {
        let files = FileManager.default
        guard files.fileExists(atPath: paths.caKey) else { throw DataDirectoryError.notInitialised(caKey: paths.caKey) }
        guard files.fileExists(atPath: paths.database) else {
            throw DataDirectoryError.databaseMissing(database: paths.database, caKey: paths.caKey)
        }
        let store = try SQLiteCoordinatorStore(path: paths.database)
        try checkAuditLog(store, paths)
        return store
    }

    /// The same checks without writing anything, for `check-config`.
    static func checkInitialised(_ paths: CoordinatorPaths) throws {
        let files = FileManager.default
        guard files.fileExists(atPath: paths.caKey) else { throw DataDirectoryError.notInitialised(caKey: paths.caKey) }
        guard files.fileExists(atPath: paths.database) else {
            throw DataDirectoryError.databaseMissing(database: paths.database, caKey: paths.caKey)
        }
        guard let size = try? files.attributesOfItem(atPath: paths.database)[.size] as? Int, size > 0 else {
            throw DataDirectoryError.databaseEmpty(database: paths.database, caKey: paths.caKey)
        }
        try checkAuditLog(try SQLiteCoordinatorStore(path: paths.database, readonly: true), paths)
    }

    private static func checkAuditLog(_ store: SQLiteCoordinatorStore, _ paths: CoordinatorPaths) throws {
        let rows = try store.pool.read { db -> Int in
            guard try db.tableExists("audit_log") else { return 0 }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_log") ?? 0
        }
        guard rows > 0 else { throw DataDirectoryError.databaseEmpty(database: paths.database, caKey: paths.caKey) }
    }
}
