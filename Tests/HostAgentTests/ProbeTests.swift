import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct HostProbeTests {
    static let meminfo = """
        MemTotal:       16318756 kB
        MemFree:         1234567 kB
        MemAvailable:     815937 kB
        Buffers:          100000 kB
        Cached:          2000000 kB
        SwapTotal:       2097148 kB
        SwapFree:        2097148 kB
        """

    /// An app that does not answer at all is app.status_error, not also a Host-case fault:
    /// the lowercased Host is blamed only when the configured one works.
    @Test func anAppThatIsDownIsNotBlamedOnTheHostsCase() async {
        let result = await StatusProbe(url: "http://127.0.0.1:1/api/v1/status/", host: "QFC.Example.org").collect()
        #expect(result.findings.map(\.code) == ["app.status_error"], "\(result.findings)")
    }

    @Test func parsesMeminfo() throws {
        let memory = try #require(HostProbe.parseMeminfo(Self.meminfo))
        #expect(memory.totalBytes == 16_318_756 * 1024)
        #expect(memory.availableBytes == 815_937 * 1024)
        #expect(memory.swapTotalBytes == 2_097_148 * 1024)
        #expect(abs(memory.usedPercent - 95.0) < 0.01)
    }

    @Test func oldKernelsWithoutMemAvailable() throws {
        let memory = try #require(HostProbe.parseMeminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"))
        #expect(memory.availableBytes == 400 * 1024)
        #expect(HostProbe.parseMeminfo("garbage") == nil)
    }

    @Test func raisesMemoryHighAtTheThreshold() throws {
        let memory = try #require(HostProbe.parseMeminfo(Self.meminfo))
        #expect(HostProbe(memoryThreshold: 95).findings(memory).map(\.code) == ["memory.high"])
        #expect(HostProbe(memoryThreshold: 96).findings(memory).isEmpty)
        let finding = HostProbe(memoryThreshold: 90).findings(memory)[0]
        #expect(finding.evidence["available_bytes"] == String(815_937 * 1024))
    }

    @Test func readsAFakeProc() async throws {
        let dir = NSTemporaryDirectory() + "fm-proc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.meminfo.write(toFile: dir + "/meminfo", atomically: true, encoding: .utf8)
        try "0.52 0.58 0.59 1/389 12345\n".write(toFile: dir + "/loadavg", atomically: true, encoding: .utf8)
        try "3600.5 7000.1\n".write(toFile: dir + "/uptime", atomically: true, encoding: .utf8)
        let result = await HostProbe(memoryThreshold: 99, procRoot: dir).collect()
        guard case .host(let facts) = result.section else { Issue.record("no host section"); return }
        #expect(facts.load1 == 0.52 && facts.load15 == 0.59)
        #expect(facts.uptimeSeconds == 3600.5)
        #expect(result.error == nil)
        let missing = await HostProbe(memoryThreshold: 99, procRoot: dir + "/nope").collect()
        #expect(missing.error != nil)
    }

    @Test func readsTheRealProc() async {
        let result = await HostProbe(memoryThreshold: 100).collect()
        guard case .host(let facts) = result.section else { Issue.record("no host section: \(result.error ?? "")"); return }
        #expect(facts.memory.totalBytes > 0)
        #expect(facts.uptimeSeconds > 0)
    }
}

@Suite struct DiskProbeTests {
    @Test func measuresARealMount() async {
        let result = await DiskProbe(mounts: ["/"], bytesThreshold: 101, inodesThreshold: 101).collect()
        guard case .disks(let disks) = result.section else { Issue.record("no disks"); return }
        #expect(disks.count == 1)
        #expect(disks[0].totalBytes > 0)
        #expect(disks[0].availableBytes <= disks[0].freeBytes)
        #expect(result.findings.isEmpty)
    }

    @Test func aMissingMountIsReportedNotFatal() async {
        let result = await DiskProbe(mounts: ["/", "/definitely/not/here"], bytesThreshold: 90, inodesThreshold: 90).collect()
        guard case .disks(let disks) = result.section else { Issue.record("no disks"); return }
        #expect(disks.map(\.mount) == ["/"])
        #expect(result.error?.contains("/definitely/not/here") == true)
    }

    @Test func thresholdsRaiseFindings() {
        let disk = DiskUsage(mount: "/var/lib/docker", totalBytes: 100, freeBytes: 8, availableBytes: 5, totalInodes: 1000, freeInodes: 50)
        let probe = DiskProbe(mounts: [], bytesThreshold: 90, inodesThreshold: 90)
        let findings = probe.findings(disk)
        #expect(findings.map(\.code) == ["disk.high", "disk.inodes_high"])
        #expect(findings[0].subject == "/var/lib/docker")
        // df's arithmetic: 92 used of (92 + 5) → 94.8 %
        #expect(abs(disk.usedPercent - 94.845) < 0.01)
        #expect(DiskProbe(mounts: [], bytesThreshold: 95, inodesThreshold: 96).findings(disk).isEmpty)
    }
}

@Suite struct AgentConfigTests {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "fm-agent-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theShippedTemplateParses() throws {
        let path = try write(AgentConfigTemplate.render(stateDir: "/nonexistent/state"))
        defer { unlink(path) }
        let config = try AgentConfig.load(path: path)
        #expect(config.identity == nil)
        #expect(throws: OperationalError.self) { try config.requireIdentity() }
        #expect(config.reportInterval == 60)
        #expect(config.spoolMaxAge == 7 * 86_400)
        #expect(config.diskMounts == ["/"])
    }

    @Test func urlMustBeHTTPS() throws {
        let path = try write("name = \"vps-1\"\n\n[coordinator]\nurl = \"http://ops:8443\"\n")
        defer { unlink(path) }
        do {
            _ = try AgentConfig.load(path: path)
            Issue.record("http:// must be refused")
        } catch {
            #expect(error.description == "configuration error: \(path):4: coordinator.url must start with https:// and name a host, e.g. url = \"https://ops.example.org:8443\"")
        }
    }

    @Test func unknownKeysAreErrors() throws {
        let typo = try write("name = \"vps-1\"\n[coordinator]\nurl = \"https://ops:8443\"\n[report]\nintervall = \"5s\"\n")
        defer { unlink(typo) }
        #expect(throws: ConfigError.self) { try AgentConfig.load(path: typo) }
        let badName = try write("name = \"Not Valid\"\n")
        defer { unlink(badName) }
        #expect(throws: ConfigError.self) { try AgentConfig.load(path: badName) }
    }

    @Test func identityComesFromEnrollmentUnlessTheFileSetsIt() throws {
        let state = NSTemporaryDirectory() + "fm-state-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        try AgentIdentity(name: "vps-1", coordinatorURL: "https://ops:8443").write(stateDir: state)
        let plain = try write("[state]\ndir = \"\(state)\"\n")
        defer { unlink(plain) }
        #expect(try AgentConfig.load(path: plain).identity == AgentIdentity(name: "vps-1", coordinatorURL: "https://ops:8443"))
        let overriding = try write("name = \"vps-1\"\n[coordinator]\nurl = \"https://other:9443/\"\n[state]\ndir = \"\(state)\"\n")
        defer { unlink(overriding) }
        #expect(try AgentConfig.load(path: overriding).identity == AgentIdentity(name: "vps-1", coordinatorURL: "https://other:9443"))
    }
}

@Suite struct BackoffTests {
    @Test func growsWithJitterAndResets() {
        var backoff = Backoff(initial: 1, maximum: 8)
        let delays = (0..<6).map { _ in backoff.nextDelay() }
        #expect(delays[0] >= 0.5 && delays[0] <= 1)
        #expect(delays[1] >= 1 && delays[1] <= 2)
        #expect(delays[3] >= 4 && delays[3] <= 8)
        #expect(delays[5] >= 4 && delays[5] <= 8)
        backoff.reset()
        #expect(backoff.nextDelay() <= 1)
    }
}
