import Foundation

/// Which `psql` the queue probe runs in `dsn` mode. On Debian and Ubuntu `/usr/bin/psql` is
/// postgresql-common's `pg_wrapper`, a Perl script that picks a versioned psql on every start:
/// ~35 ms of CPU per run, more than half of a probe cycle (docs/benchmarks.md). When the psql
/// on the PATH is that wrapper, the newest `/usr/lib/postgresql/<version>/bin/psql` is used
/// directly (a newer psql talks to older servers); anything else is left as found.
enum PsqlLocator {
    static func locate(
        onPath: String? = SubprocessRunner.resolve("psql"), versionsRoot: String = "/usr/lib/postgresql"
    ) -> String {
        guard let onPath else { return "psql" }  // the runner reports it missing, with the name
        guard canonical(onPath).hasSuffix("/pg_wrapper") else { return onPath }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: versionsRoot)) ?? []
        let newest = versions
            .compactMap { name -> ([Int], String)? in
                let parts = name.split(separator: ".").map { Int($0) }
                guard !parts.isEmpty, !parts.contains(nil) else { return nil }
                let psql = "\(versionsRoot)/\(name)/bin/psql"
                guard FileManager.default.isExecutableFile(atPath: psql) else { return nil }
                return (parts.compactMap { $0 }, psql)
            }
            .max { $0.0.lexicographicallyPrecedes($1.0) }
        return newest?.1 ?? onPath
    }

    /// The path with every symbolic link resolved (the path itself when that fails).
    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
