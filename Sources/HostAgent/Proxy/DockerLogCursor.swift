import Foundation

/// Where the last read of a container's log stopped, so that each cycle asks the engine only
/// for newer lines (`since=`) and never reads the log from its start. The engine's `since`
/// includes lines at exactly that time, so the cursor also remembers how many lines it has
/// already taken at its timestamp and skips those.
struct DockerLogCursor: Sendable, Equatable {
    private(set) var last: LogTimestamp
    private(set) var takenAtLast: Int = 0
    /// The container the position belongs to: a recreated container starts a new log.
    private(set) var containerID: String

    init(containerID: String, start: LogTimestamp) {
        self.containerID = containerID
        self.last = start
    }

    var sinceParameter: String { last.sinceParameter }

    /// The lines of `text` (`timestamps=1` output: "TIMESTAMP text" per line) that are new,
    /// with their times; moves the cursor past them. A line cut off at the end of the answer
    /// (no newline yet) is left for the next read.
    mutating func advance(over text: Substring) -> [(time: LogTimestamp, line: Substring)] {
        var out: [(time: LogTimestamp, line: Substring)] = []
        var seenAtLast = 0
        var rest = text
        while let newline = rest.firstIndex(of: "\n") {
            let raw = rest[rest.startIndex..<newline]
            rest = rest[rest.index(after: newline)...]
            guard let space = raw.firstIndex(of: " "), let time = LogTimestamp(raw[raw.startIndex..<space]) else { continue }
            if time < last { continue }
            if time == last {
                seenAtLast += 1
                // The engine answers in order: the first lines at `last` are the ones taken before.
                if seenAtLast <= takenAtLast { continue }
                takenAtLast += 1
            } else {
                last = time
                takenAtLast = 1
                seenAtLast = 1
            }
            out.append((time, raw[raw.index(after: space)...]))
        }
        return out
    }
}
