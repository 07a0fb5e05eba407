import Foundation
import GRDB

/// Opens FieldMedic's SQLite databases the same way everywhere: WAL, a busy timeout,
/// synchronous=NORMAL (durable across process crashes, and fast), file mode 0600.
public enum SQLiteStore {
    public static func openPool(path: String, readonly: Bool = false) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.readonly = readonly
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let existed = FileManager.default.fileExists(atPath: path)
        let pool = try DatabasePool(path: path, configuration: configuration)
        if !existed && !readonly {
            for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) }
        }
        return pool
    }

    /// True when an error from SQLite means the disk (or its quota) is full.
    public static func isDiskFull(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR
    }
}
