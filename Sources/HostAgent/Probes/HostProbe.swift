import Foundation
import Shared

/// Host name, uptime, load and memory from /proc.
struct HostProbe: Probe {
    let name = "host"
    var memoryThreshold: Double
    var procRoot: String = "/proc"

    func collect() async -> ProbeResult {
        do {
            let meminfo = try String(contentsOfFile: procRoot + "/meminfo", encoding: .utf8)
            let loadavg = try String(contentsOfFile: procRoot + "/loadavg", encoding: .utf8)
            let uptime = try String(contentsOfFile: procRoot + "/uptime", encoding: .utf8)
            guard let memory = Self.parseMeminfo(meminfo) else { return ProbeResult(error: "\(procRoot)/meminfo has no MemTotal line") }
            let loads = Self.parseLoad(loadavg)
            let facts = HostFacts(
                hostname: ProcessInfo.processInfo.hostName,
                uptimeSeconds: Double(uptime.split(separator: " ").first ?? "0") ?? 0,
                load1: loads.0, load5: loads.1, load15: loads.2, memory: memory)
            return ProbeResult(section: .host(facts), findings: findings(memory))
        } catch {
            return ProbeResult(error: "cannot read \(procRoot): \(error.localizedDescription)")
        }
    }

    func findings(_ memory: MemoryInfo) -> [Finding] {
        let used = memory.usedPercent
        guard used >= memoryThreshold else { return [] }
        return [Finding(.memoryHigh, severity: used >= 98 ? .critical : .warning, subject: "memory",
            message: String(format: "memory %.0f%% used (threshold %.0f%%), %@ available", used, memoryThreshold, RelativeTime.bytes(memory.availableBytes)),
            evidence: ["used_percent": String(format: "%.1f", used), "available_bytes": String(memory.availableBytes),
                       "total_bytes": String(memory.totalBytes)])]
    }

    /// `MemTotal:  16318756 kB` lines → bytes.
    static func parseMeminfo(_ text: String) -> MemoryInfo? {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
            guard parts.count >= 2, let number = UInt64(parts[1]) else { continue }
            let unit = parts.count >= 3 && parts[2] == "kB" ? UInt64(1024) : 1
            values[String(parts[0])] = number * unit
        }
        guard let total = values["MemTotal"] else { return nil }
        // Kernels before 3.14 lack MemAvailable: approximate it as the kernel later defined it.
        let available = values["MemAvailable"] ?? ((values["MemFree"] ?? 0) + (values["Buffers"] ?? 0) + (values["Cached"] ?? 0))
        return MemoryInfo(totalBytes: total, availableBytes: available, swapTotalBytes: values["SwapTotal"] ?? 0, swapFreeBytes: values["SwapFree"] ?? 0)
    }

    static func parseLoad(_ text: String) -> (Double, Double, Double) {
        let parts = text.split(separator: " ").prefix(3).map { Double($0) ?? 0 }
        guard parts.count == 3 else { return (0, 0, 0) }
        return (parts[0], parts[1], parts[2])
    }
}
