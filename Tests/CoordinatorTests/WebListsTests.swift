import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Coordinator
@testable import Shared

/// The dashboard's long lists: the fleet most in need of attention first, a page at a time,
/// filtered by name (the live refresh keeps the page); tickets a page at a time with the
/// filter kept; the light ticket lines agree with the whole tickets; the indexes are used.
@Suite struct WebListsTests {
    /// `count` active hosts `h-000…`; `critical` hosts have a critical finding in their newest
    /// report, `offline` hosts last reported an hour ago.
    static func addHosts(_ f: WebFixture, count: Int, critical: Set<Int> = [], offline: Set<Int> = []) async throws {
        let now = f.now
        try await f.store.pool.write { db in
            for i in 0..<count {
                let name = String(format: "h-%03d", i)
                let at = offline.contains(i) ? now.addingTimeInterval(-3600) : now
                let findings = critical.contains(i) ? [Finding(code: "service.down", severity: .critical, subject: "app", message: "app is down")] : []
                let report = HealthReport(id: "\(name)-r1", sequence: 1, agent: name, createdAt: at, probes: [], findings: findings)
                try db.execute(sql: "INSERT INTO agents (name, state, created_at, enrolled_at, cert_serial, cert_not_after, last_report_at, last_report_id, last_sequence, report_count) VALUES (?, 'active', ?, ?, ?, ?, ?, ?, 1, 1)",
                               arguments: [name, WireDate.format(now), WireDate.format(now), "serial-\(i)", WireDate.format(now.addingTimeInterval(86_400)), WireDate.format(at), report.id])
                try db.execute(sql: "INSERT INTO health_reports (id, agent, sequence, created_at, received_at, body) VALUES (?, ?, 1, ?, ?, ?)",
                               arguments: [report.id, name, WireDate.format(at), WireDate.format(at), String(decoding: try WireCodec.encode(report), as: UTF8.self)])
            }
        }
    }

    /// A page as `me` sees it (expected to answer 200).
    static func page(_ client: some TestClientProtocol, _ me: WebClientSession, _ uri: String) async throws -> String {
        let response = try await client.execute(uri: uri, method: .get, headers: me.headers)
        #expect(response.status == .ok, "\(uri): \(response.status)")
        return String(buffer: response.body)
    }

    static func hostLinks(_ html: String) -> [String] {
        html.components(separatedBy: "href=\"/hosts/").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    static func ticketLinks(_ html: String) -> [Int64] {
        html.components(separatedBy: "<a href=\"/tickets/").dropFirst().compactMap { Int64($0.prefix { $0 != "\"" }) }
    }

    @Test func theFleetShowsTheHostsInNeedFirstAPageAtATimeAndFindsByName() async throws {
        let f = try await WebFixture()
        try await Self.addHosts(f, count: 250, critical: [200], offline: [150])
        var draft = Ticket(source: .finding, title: "worker down", body: "", author: "fieldmedic", now: f.now)
        draft.host = "h-100"
        let ticket = try await f.store.insertTicket(draft, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket")).ticket
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let me = try #require(try await WebTest.signIn(client, "vera"))
            func get(_ uri: String) async throws -> String { try await Self.page(client, me, uri) }
            let first = try await get("/")
            let hosts = Self.hostLinks(first)
            #expect(hosts.count == WebDashboard.FleetView.pageSize)
            #expect(Array(hosts.prefix(5)) == ["h-200", "h-150", "vps-1", "h-100", "h-000"], "critical, offline (the fixture's vps-1 never reported), open ticket, then by name: \(hosts.prefix(5))")
            #expect(first.contains("251 hosts: 249 online, 2 offline or not reporting; 1 with findings; 1 open ticket"), "\(first)")
            #expect(first.contains("Hosts 1–100 of 251, most in need of attention first"))
            #expect(first.contains("href=\"/?page=2\" rel=\"next\""))
            #expect(!first.contains("rel=\"prev\""))
            #expect(first.contains("href=\"/tickets/\(ticket.id)\""))
            #expect(first.contains("data-live=\"/fleet/live\" data-target=\"fleet-table\" data-period=\"10000\""), "[web] live_refresh, in ms")

            let last = try await get("/?page=3")
            #expect(Self.hostLinks(last).count == 51)
            #expect(Self.hostLinks(last).last == "h-249")
            #expect(last.contains("Hosts 201–251 of 251"))
            #expect(last.contains("href=\"/?page=2\" rel=\"prev\"") && !last.contains("rel=\"next\""))
            #expect(last.contains("data-live=\"/fleet/live?page=3\""), "the live refresh asks for the same page")
            #expect(Self.hostLinks(try await get("/?page=99")) == Self.hostLinks(last), "past the end: the last page")
            #expect(Self.hostLinks(try await get("/fleet/live?page=2")) == Self.hostLinks(try await get("/?page=2")))

            let found = try await get("/?q=H-01")
            #expect(Self.hostLinks(found) == (10...19).map { String(format: "h-%03d", $0) }, "case-insensitive substring")
            #expect(found.contains("10 of them match “H-01”"))
            #expect(!found.contains("Hosts 1–"), "one page: no pager")
            #expect(found.contains("data-live=\"/fleet/live?q=H-01\""))
            let none = try await get("/?q=%3Cscript%3E")
            #expect(Self.hostLinks(none).isEmpty)
            #expect(none.contains("No host matches."))
            #expect(!none.contains("<script>") && none.contains("&lt;script&gt;"))
        }
    }

    @Test func ticketsComeAPageAtATimeNewestFirstWithTheFilterKept() async throws {
        let f = try await WebFixture()
        var ids: [Int64] = []
        for i in 0..<230 {
            var draft = Ticket(source: .finding, title: "ticket \(i)", body: "", author: "fieldmedic", now: f.now.addingTimeInterval(Double(i)))
            draft.host = i % 2 == 0 ? "vps-1" : "vps-2"
            draft.targets = [Finding(code: i % 3 == 0 ? "service.down" : "disk.high", severity: i % 3 == 0 ? .critical : .warning, subject: i % 3 == 0 ? "app" : "/", message: "m")]
            draft.state = .resolved
            draft.close(at: draft.createdAt)
            draft.github.dirty = false
            ids.append(try await f.store.insertTicket(draft, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket")).ticket.id)
        }
        let inserted = ids
        try await Application(router: f.dashboard.makeRouter()).test(.router) { client in
            let me = try #require(try await WebTest.signIn(client, "vera"))
            func get(_ uri: String) async throws -> String { try await Self.page(client, me, uri) }
            let newest = Array(inserted.reversed())
            let page1 = try await get("/tickets?all=1")
            #expect(Self.ticketLinks(page1) == Array(newest.prefix(100)))
            #expect(page1.contains("Tickets 1–100, newest first"))
            #expect(page1.contains("href=\"/tickets?all=1&amp;page=2\" rel=\"next\""))
            let page3 = try await get("/tickets?all=1&page=3")
            #expect(Self.ticketLinks(page3) == Array(newest.suffix(30)))
            #expect(page3.contains("rel=\"prev\"") && !page3.contains("rel=\"next\""))
            #expect(Self.ticketLinks(try await get("/tickets")).isEmpty, "none open")

            // Priority (from the findings) with a host: the filter stays in the page links.
            let p0 = try await get("/tickets?all=1&host=vps-1&priority=P0")
            let expected = zip(inserted.indices, inserted).filter { $0.0 % 2 == 0 && $0.0 % 3 == 0 }.map(\.1).reversed()
            #expect(Self.ticketLinks(p0) == Array(expected), "\(Self.ticketLinks(p0))")
            #expect(!p0.contains("rel=\"next\""))
            let pageOfP2 = try await get("/tickets?all=1&priority=P2")
            #expect(Self.ticketLinks(pageOfP2).count == 100, "153 disk.high tickets are P2")
            #expect(pageOfP2.contains("href=\"/tickets?priority=P2&amp;all=1&amp;page=2\" rel=\"next\""), "\(pageOfP2)")
            #expect(Self.ticketLinks(try await get("/tickets?all=1&priority=P2&page=2")).count == 53)
        }
    }

    @Test func ticketLinesAgreeWithTheWholeTicketsAndUseTheIndexes() async throws {
        let f = try await WebFixture()
        for i in 0..<40 {
            var draft = Ticket(source: i % 2 == 0 ? .github : .finding, title: "t\(i) <b>", body: "", author: "a", now: f.now.addingTimeInterval(Double(i)))
            draft.host = "vps-\(i % 3)"
            if i % 4 == 0 { draft.seeds = [Finding(code: "queue.stalled", severity: .critical, subject: "core", message: "m")] }
            if i % 5 == 0 { draft.targets = [Finding(code: "disk.high", severity: .warning, subject: "/", message: "m")] }
            draft.state = i % 2 == 0 ? .resolved : .diagnosing
            _ = try await f.store.insertTicket(draft, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket"))
        }
        let playbook = f.dashboard.engine.config.playbook
        for (host, state, open) in [(nil, nil, false), ("vps-1", nil, false), (nil, TicketState.diagnosing, false), (nil, nil, true)] as [(String?, TicketState?, Bool)] {
            let whole = try await f.store.tickets(host: host, state: state, openOnly: open, limit: 100)
            let lines = try await f.store.ticketLines(host: host, state: state, openOnly: open, limit: 100, offset: 0)
            #expect(lines.map(\.id) == whole.map(\.id))
            #expect(lines.map(\.title) == whole.map(\.title))
            #expect(lines.map { $0.priority(playbook) } == whole.map { $0.priority(playbook) })
            #expect(lines.map(\.state) == whole.map(\.state.rawValue))
            #expect(lines.map(\.host) == whole.map(\.host))
            let skipped = try await f.store.ticketLines(host: host, state: state, openOnly: open, limit: 5, offset: 3)
            #expect(skipped.map(\.id) == Array(whole.map(\.id).dropFirst(3).prefix(5)))
        }
        // EXPLAIN QUERY PLAN's fourth column is the text.
        let bySource = try await f.store.pool.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT json_extract(doc, '$.source') AS source, COUNT(*) AS n FROM tickets GROUP BY 1").map { $0[3] as String } }
        let newest = try await f.store.pool.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM tickets ORDER BY updated_at DESC, id DESC LIMIT 10").map { $0[3] as String } }
        #expect(bySource.joined().contains("tickets_source"), "\(bySource)")
        #expect(newest.joined().contains("tickets_updated") && !newest.joined().contains("TEMP B-TREE"), "\(newest)")
        let counts = try await f.store.ticketCounts()
        #expect(counts.bySource["github"] == 20 && counts.bySource["finding"] == 20)
    }
}
