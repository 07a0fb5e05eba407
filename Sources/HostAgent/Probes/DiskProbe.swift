import Foundation
import Shared

/// Space and inodes of the configured mounts, from statvfs.
struct DiskProbe: Probe {
    let name = "disk"
    var mounts: [String]
    var bytesThreshold: Double
    var inodesThreshold: Double

    func collect() async -> ProbeResult {
        var disks: [DiskUsage] = []
        var errors: [String] = []
        for mount in mounts {
            var info = statvfs()
            guard statvfs(mount, &info) == 0 else {
                errors.append("\(mount): \(String(cString: strerror(errno)))")
                continue
            }
            let block = UInt64(info.f_frsize)
            disks.append(DiskUsage(
                mount: mount, totalBytes: UInt64(info.f_blocks) * block, freeBytes: UInt64(info.f_bfree) * block,
                availableBytes: UInt64(info.f_bavail) * block, totalInodes: UInt64(info.f_files), freeInodes: UInt64(info.f_ffree)))
        }
        return ProbeResult(
            section: .disks(disks), findings: disks.flatMap(findings),
            error: errors.isEmpty ? nil : "cannot stat " + errors.joined(separator: "; "))
    }

    func findings(_ disk: DiskUsage) -> [Finding] {
        var out: [Finding] = []
        let used = disk.usedPercent
        if used >= bytesThreshold {
            out.append(Finding(.diskHigh, severity: used >= 98 ? .critical : .warning, subject: disk.mount,
                message: String(format: "%@ is %.0f%% full (threshold %.0f%%), %@ available", disk.mount, used, bytesThreshold, RelativeTime.bytes(disk.availableBytes)),
                evidence: ["used_percent": String(format: "%.1f", used), "available_bytes": String(disk.availableBytes), "total_bytes": String(disk.totalBytes)]))
        }
        let inodes = disk.inodesUsedPercent
        if disk.totalInodes > 0 && inodes >= inodesThreshold {
            out.append(Finding(.diskInodesHigh, severity: inodes >= 98 ? .critical : .warning, subject: disk.mount,
                message: String(format: "%@ has %.0f%% of its inodes in use (threshold %.0f%%)", disk.mount, inodes, inodesThreshold),
                evidence: ["inodes_used_percent": String(format: "%.1f", inodes), "free_inodes": String(disk.freeInodes), "total_inodes": String(disk.totalInodes)]))
        }
        return out
    }
}
