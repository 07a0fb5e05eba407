import Foundation
import GRDB
import Logging
import Testing
@testable import HostAgent
@testable import Shared

final class AgentStateFixture {
    let directory: String
    let pool: DatabasePool

    init() throws {
        directory = NSTemporaryDirectory() + "fm-agent-state-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        pool = try AgentDatabase.open(path: directory + "/agent.sqlite3")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func spool(maxAge: TimeInterval = 7 * 86_400) -> ReportSpool {
        ReportSpool(pool: pool, maxAge: maxAge, logger: Logger(label: "test"))
    }
}

@Suite struct ReportSpoolTests {
    func report(at date: Date) -> HealthReport {
        HealthReport(id: UUID().uuidString, sequence: 0, agent: "vps-1", createdAt: date)
    }

    @Test func numbersAndReturnsReportsInOrder() throws {
        let f = try AgentStateFixture()
        let spool = f.spool()
        let now = Date()
        let stored = try (0..<5).map { try spool.append(report(at: now.addingTimeInterval(Double($0))), now: now) }
        #expect(stored.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(try spool.oldest(limit: 3).map(\.sequence) == [1, 2, 3])
        try spool.remove(throughSequence: 3)
        #expect(try spool.oldest(limit: 10).map(\.sequence) == [4, 5])
        #expect(spool.count == 2)
    }

    @Test func sequenceSurvivesEmptyingTheSpool() throws {
        let f = try AgentStateFixture()
        let spool = f.spool()
        try spool.append(report(at: Date()))
        try spool.remove(throughSequence: 1)
        #expect(try spool.append(report(at: Date())).sequence == 2)
        // A restarted agent (a new spool over the same file) continues the sequence.
        #expect(try f.spool().append(report(at: Date())).sequence == 3)
    }

    @Test func dropsReportsOlderThanItsBoundAndCountsThem() throws {
        let f = try AgentStateFixture()
        let spool = f.spool(maxAge: 3600)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        for minute in 0..<90 {
            try spool.append(report(at: start.addingTimeInterval(Double(minute) * 60)), now: start.addingTimeInterval(Double(minute) * 60))
        }
        #expect(spool.count == 61)
        #expect(spool.droppedTotal == 29)
        #expect(try spool.oldest(limit: 1).first?.sequence == 30)
    }
}

@Suite struct CommandJournalTests {
    func command(_ id: String) -> Command { Command(id: id, kind: "diagnose", issuedAt: Date()) }

    func encode<T: Encodable>(_ value: T) throws -> String { String(decoding: try WireCodec.encode(value), as: UTF8.self) }

    @Test func tracksUnfinishedAndUnreportedCommands() throws {
        let f = try AgentStateFixture()
        let journal = CommandJournal(pool: f.pool)
        try journal.record(.received, commandID: "a", body: try encode(command("a")))
        try journal.record(.received, commandID: "b", body: try encode(command("b")))
        let result = CommandResult(commandId: "a", status: .succeeded, message: "ok", startedAt: nil, finishedAt: Date())
        try journal.record(.finished, commandID: "a", body: try encode(result))
        #expect(try journal.unfinished().map(\.id) == ["b"])
        #expect(try journal.unreported().map(\.commandId) == ["a"])
        try journal.record(.reported, commandID: "a", body: "{}")
        #expect(try journal.unreported().isEmpty)
        #expect(try journal.events(commandID: "a").map(\.0) == [.received, .finished, .reported])
        #expect(try journal.head().count == 4)
    }

    @Test func theJournalIsHashChained() throws {
        let f = try AgentStateFixture()
        let journal = CommandJournal(pool: f.pool)
        for id in ["a", "b", "c"] { try journal.record(.received, commandID: id, body: try encode(command(id))) }
        guard case .intact(let head) = try journal.verify() else { Issue.record("chain broken"); return }
        #expect(head == (try journal.head()))
        try f.pool.write { db in try db.execute(sql: "UPDATE journal SET event = 'finished' WHERE id = 2") }
        guard case .broken(let failure) = try journal.verify() else { Issue.record("rewrite not caught"); return }
        #expect(failure.rowID == 2)
    }
}

@Suite struct CommandExecutorTests {
    @Test func diagnoseRunsTheProbes() async {
        let executor = CommandExecutor(
            agent: "vps-1", probes: ProbeSet(probes: [DiskProbe(mounts: ["/"], bytesThreshold: 101, inodesThreshold: 101)]),
            journalHead: { ChainHead(count: 3, hash: "abc") })
        let result = await executor.execute(Command(id: "c1", kind: "diagnose", issuedAt: Date()))
        #expect(result.status == .succeeded)
        #expect(result.diagnosis?.disks?.first?.mount == "/")
        #expect(result.diagnosis?.journalHead == ChainHead(count: 3, hash: "abc"))
    }

    @Test func anythingOutsideTheCatalogIsRefused() async {
        let executor = CommandExecutor(agent: "vps-1", probes: ProbeSet(probes: []), journalHead: { nil })
        let result = await executor.execute(Command(id: "c2", kind: "shell", params: ["cmd": "rm -rf /"], issuedAt: Date()))
        #expect(result.status == .refused)
        #expect(result.message.contains("unknown command"))
    }
}
