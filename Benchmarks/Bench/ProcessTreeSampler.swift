import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and resident memory of the server under test, read from /proc: the given
/// process and its children (nginx's workers are children of its master).
struct ProcessTreeSampler: Sendable {
    /// The roots and their children, found once: scanning all of /proc at every sample would
    /// cost the client more than reading the few files that matter.
    let pids: [Int32]

    init(rootPIDs: [Int32]) {
        pids = Self.processTree(rootPIDs)
    }

    struct Reading: Sendable {
        /// User + system CPU of every process in the tree, in seconds.
        var cpuSeconds: Double
        var residentBytes: UInt64
        var processCount: Int
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    func read() -> Reading {
        let tree = pids.filter(Self.isAlive)
        var cpu = 0.0
        var resident: UInt64 = 0
        for pid in tree {
            if let stat = Self.stat(pid) { cpu += stat.cpuSeconds }
            resident += Self.residentBytes(pid) ?? 0
        }
        return Reading(cpuSeconds: cpu, residentBytes: resident, processCount: tree.count)
    }

    /// The roots and their direct children (enough for nginx and the coordinator).
    private static func processTree(_ rootPIDs: [Int32]) -> [Int32] {
        var pids = rootPIDs
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return pids }
        for entry in entries {
            guard let pid = Int32(entry), !rootPIDs.contains(pid), let stat = Self.stat(pid) else { continue }
            if rootPIDs.contains(stat.parent) { pids.append(pid) }
        }
        return pids
    }

    /// Fields of /proc/PID/stat after the command name, which may itself hold spaces and
    /// parentheses: so split after the last ')'.
    static func stat(_ pid: Int32) -> (parent: Int32, cpuSeconds: Double)? {
        guard let text = ProcFile.read("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] = state, [1] = ppid, [11] = utime, [12] = stime (proc(5), counted from 3).
        guard fields.count > 12, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else {
            return nil
        }
        return (parent, (user + system) / ticksPerSecond)
    }

    static func residentBytes(_ pid: Int32) -> UInt64? {
        guard let text = ProcFile.read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = UInt64(parts[1]) { return kib * 1024 }
        }
        return nil
    }

    static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }
}

/// Busy and total CPU time of the whole machine (/proc/stat), to tell whether the two cores
/// were saturated during the window.
struct MachineCPU: Sendable {
    var busySeconds: Double
    var totalSeconds: Double

    static func read() -> MachineCPU? {
        guard let text = ProcFile.read("/proc/stat"),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 5 else { return nil }
        // user nice system idle iowait irq softirq steal (guest is already inside user).
        let total = values.prefix(8).reduce(0, +)
        let idle = values[3] + values[4]
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return MachineCPU(busySeconds: (total - idle) / ticks, totalSeconds: total / ticks)
    }
}

/// This process's own CPU time: the load generator shares the cores with the server.
enum OwnCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// TCP connections to the server's port on loopback, from /proc/net/tcp{,6}: shows that each
/// simulated agent keeps one connection alive instead of reconnecting.
struct ConnectionCensus: Sendable {
    var established: Int
    var timeWait: Int

    static func count(port: Int) -> ConnectionCensus {
        var census = ConnectionCensus(established: 0, timeWait: 0)
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = ProcFile.read(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 3 else { continue }
                let localPort = fields[1].split(separator: ":").last.flatMap { Int($0, radix: 16) }
                let remotePort = fields[2].split(separator: ":").last.flatMap { Int($0, radix: 16) }
                switch fields[3] {
                case "01" where remotePort == port:
                    census.established += 1  // the client's end of each connection
                case "06" where remotePort == port || localPort == port:
                    census.timeWait += 1  // whichever side closed first holds it
                default:
                    break
                }
            }
        }
        return census
    }
}

/// Whole /proc files. Foundation's `String(contentsOfFile:)` trusts the size stat reports,
/// which is 0 for /proc, and returns only the first read (4 KiB): /proc/net/tcp is longer.
enum ProcFile {
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
