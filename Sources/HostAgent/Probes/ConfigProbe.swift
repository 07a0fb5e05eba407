import Foundation
import Shared

/// The install's `.env`, linted line by line (`EnvironmentLint`). The file is read again
/// only when its modification time, size or inode changed, and looked at no more often than
/// `interval`: it changes when someone edits it, not between two reports.
struct ConfigProbe: Probe {
    let name = "config"
    var directory: String
    var interval: TimeInterval
    var now: @Sendable () -> Date = { Date() }

    private let cache = LockedValue<Cache?>(nil)

    struct Cache: Sendable {
        var checkedAt: Date
        var modified: Date
        var size: UInt64
        /// An editor's or `sed -i`'s save writes a new file: a new inode even within the
        /// timestamp's resolution and at the same size.
        var inode: UInt64
        var result: ProbeResult
    }

    init(directory: String, interval: TimeInterval, now: @escaping @Sendable () -> Date = { Date() }) {
        self.directory = directory
        self.interval = interval
        self.now = now
    }

    var path: String { directory + "/.env" }

    func collect() async -> ProbeResult {
        let now = now()
        if let cached = cache.value, now.timeIntervalSince(cached.checkedAt) < interval { return cached.result }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let modified = attributes[.modificationDate] as? Date else {
            return ProbeResult(error: "cannot read \(path)", fix: "check `[compose] directory` in agent.toml: it must be the folder with QFieldCloud's .env")
        }
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        if var cached = cache.value, cached.modified == modified, cached.size == size, cached.inode == inode {
            cached.checkedAt = now
            cache.value = cached
            return cached.result
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return ProbeResult(error: "cannot read \(path) as text", fix: "the agent's user must be able to read it")
        }
        let result = ProbeResult(findings: findings(EnvironmentLint.check(text)))
        cache.value = Cache(checkedAt: now, modified: modified, size: size, inode: inode, result: result)
        return result
    }

    func findings(_ problems: [EnvironmentLint.Problem]) -> [Finding] {
        problems.map { problem in
            Finding(.configInvalid, severity: .warning, subject: ".env \(problem.key)",
                message: "\(path):\(problem.line): \(problem.what); write \(problem.write)",
                evidence: ["file": path, "line": String(problem.line), "key": problem.key, "write": problem.write])
        }
    }
}
