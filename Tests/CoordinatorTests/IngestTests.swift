import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import Coordinator
@testable import Shared

/// The real webhook bodies (captured from Alertmanager 0.25, GlitchTip's own shapes) under
/// Tests/fixtures/alerts.
enum AlertFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/alerts").path

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name + ".json"))
    }

    /// The fixture as a JSON object, edited.
    static func edited(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: try data(name)) as! [String: Any]
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// An Alertmanager body for one alert, built from the captured firing body.
    static func alertmanager(_ name: String, labels: [String: String], status: String = "firing", fingerprint: String,
                             startsAt: String = "2026-11-29T23:47:37.173Z") throws -> Data {
        try edited("alertmanager-webhook-firing") { body in
            var alert = (body["alerts"] as! [[String: Any]])[0]
            alert["labels"] = labels.merging(["alertname": name]) { a, _ in a }
            alert["status"] = status
            alert["fingerprint"] = fingerprint
            alert["startsAt"] = startsAt
            if status == "resolved" { alert["endsAt"] = "2026-11-29T23:58:15.943Z" }
            body["alerts"] = [alert]
            body["status"] = status
        }
    }

    /// GlitchTip's current body: the older fixture without `alias` and `sections`, with a Server Name.
    static func glitchtipCurrent(serverName: String?) throws -> Data {
        try edited("glitchtip-webhook") { body in
            body["alias"] = nil
            body["sections"] = nil
            var attachment = (body["attachments"] as! [[String: Any]])[0]
            attachment["text"] = "apps/sync/views.py in upload"
            var fields = attachment["fields"] as! [[String: Any]]
            if let serverName { fields.append(["title": "Server Name", "value": serverName, "short": true]) }
            attachment["fields"] = fields
            body["attachments"] = [attachment]
        }
    }

    static func uptime(_ text: String, monitor: String = "qfc-1 status page", link: String = "https://glitchtip.example.org/acme/uptime-monitors/7") throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "text": "GlitchTip Uptime Alert",
            "attachments": [["title": monitor, "title_link": link, "text": text, "image_url": NSNull(), "color": NSNull(), "fields": NSNull(), "mrkdown_in": NSNull()]],
        ])
    }
}

@Suite struct AlertParsingTests {
    static let labels = IngestConfig.defaultHostLabels

    @Test func theCapturedAlertmanagerBodiesParse() throws {
        let firing = try AlertmanagerMessage.parse(try AlertFixtures.data("alertmanager-webhook-firing"), hostLabels: Self.labels)
        #expect(firing.alerts.count == 1 && firing.truncated == 0)
        let alert = try #require(firing.alerts.first)
        #expect(alert.source == .alertmanager && alert.key == "922884ffd942481a" && alert.name == "HostDiskSpaceLow" && alert.status == .firing)
        #expect(alert.hostHints == ["qfc-1.example.org:9100"])
        #expect(alert.startsAt.map(WireDate.format)?.hasPrefix("2026-11-29T23:47:37") == true, "\(String(describing: alert.startsAt))")
        #expect(alert.endsAt == nil, "a firing alert's zero endsAt is no time")
        #expect(alert.summary == "Disk space low on qfc-1.example.org:9100")
        #expect(alert.link?.hasPrefix("http://prometheus.example.org:9090/graph") == true)
        #expect(firing.groupKey == #"{}:{alertname="HostDiskSpaceLow"}"#)

        let resolved = try AlertmanagerMessage.parse(try AlertFixtures.data("alertmanager-webhook-resolved"), hostLabels: Self.labels)
        #expect(resolved.alerts.first?.status == .resolved && resolved.alerts.first?.key == "922884ffd942481a")
        #expect(resolved.alerts.first?.endsAt != nil)

        let truncated = try AlertmanagerMessage.parse(try AlertFixtures.data("alertmanager-webhook-truncated-bearer"), hostLabels: Self.labels)
        #expect(truncated.truncated == 1 && truncated.alerts.count == 1 && truncated.alerts[0].name == "QFieldCloudAppDown")
    }

    @Test func malformedAlertmanagerBodiesAreRefusedWithTheReason() throws {
        func refusal(_ data: Data) -> String? {
            do { _ = try AlertmanagerMessage.parse(data, hostLabels: Self.labels); return nil } catch { return "\(error)" }
        }
        #expect(refusal(Data("not json".utf8))?.contains("not an Alertmanager webhook message") == true)
        #expect(refusal(try AlertFixtures.edited("alertmanager-webhook-firing") { $0["version"] = "3" })?.contains("unsupported Alertmanager webhook version \"3\"") == true)
        #expect(refusal(try AlertFixtures.edited("alertmanager-webhook-firing") { $0["alerts"] = [] })?.contains("no alerts") == true)
        #expect(refusal(try AlertFixtures.edited("alertmanager-webhook-firing") { $0["alerts"] = "many" })?.contains("at .alerts") == true)
        let second = try AlertFixtures.edited("alertmanager-webhook-firing") { body in
            var alerts = body["alerts"] as! [[String: Any]]
            var bad = alerts[0]
            bad["status"] = "pending"
            alerts.append(bad)
            body["alerts"] = alerts
        }
        #expect(refusal(second)?.contains("alerts[1] (HostDiskSpaceLow) has status \"pending\"") == true, "\(refusal(second) ?? "accepted")")
        let unnamed = try AlertFixtures.edited("alertmanager-webhook-firing") { body in
            var alert = (body["alerts"] as! [[String: Any]])[0]
            alert["labels"] = ["instance": "x"]
            body["alerts"] = [alert]
        }
        #expect(refusal(unnamed)?.contains("alerts[0] has no alertname") == true)
        let badTime = try AlertFixtures.edited("alertmanager-webhook-firing") { body in
            var alert = (body["alerts"] as! [[String: Any]])[0]
            alert["startsAt"] = "yesterday"
            body["alerts"] = [alert]
        }
        #expect(refusal(badTime)?.contains("not an RFC 3339 time") == true)
    }

    @Test func goNanosecondTimesAndOldAlertmanagersWithoutFingerprintsAreRead() throws {
        #expect(AlertTime.parse("2026-11-29T23:47:37.173456789Z") != nil)
        #expect(AlertTime.parse("2026-11-29T23:47:37+01:00") != nil)
        #expect(AlertTime.parse("2026-11-29T23:47:37.173Z") == AlertTime.parse("2026-11-29T23:47:37.173456789Z"))
        #expect(AlertTime.parse("2026-11-29T22:47:37Z") == AlertTime.parse("2026-11-29T23:47:37+01:00"))
        // What the fuzzer found: a long fractional run made ICU's parser divide by zero
        // (SIGFPE, the coordinator gone). Anything but the RFC 3339 shape is no time.
        #expect(AlertTime.parse("2026-11-29T23:47:37." + String(repeating: "7", count: 80) + "Z") == nil)
        for bad in ["0001-01-01T002481a", "2026-11-29 23:47:37Z", "2026-11-29T23:47:37", "2026-11-29T23:47:37+0100", "2026-11-29T23:47:37.Z", "２026-11-29T23:47:37Z"] {
            #expect(AlertTime.parse(bad) == nil, "\(bad)")
        }
        let old = try AlertFixtures.edited("alertmanager-webhook-firing") { body in
            var alert = (body["alerts"] as! [[String: Any]])[0]
            alert["fingerprint"] = nil
            body["alerts"] = [alert]
        }
        let a = try AlertmanagerMessage.parse(old, hostLabels: Self.labels).alerts[0]
        let b = try AlertmanagerMessage.parse(old, hostLabels: Self.labels).alerts[0]
        #expect(a.key.count == 16 && a.key == b.key, "the label set identifies the alert")
    }

    @Test func glitchTipOldCurrentAndUptimeBodiesParse() throws {
        let old = try GlitchTipMessage.parse(try AlertFixtures.data("glitchtip-webhook"))
        let issue = try #require(old.first)
        #expect(old.count == 1 && issue.source == .glitchtip && issue.status == .firing && !issue.uptime)
        #expect(issue.key == "https://xxx.com/devguard/issues/5" && issue.link == issue.key)
        #expect(issue.name == "*errors.errorString: Failed to setup database connection")
        #expect(issue.project == "devguard-api" && issue.labels["environment"] == "dev" && issue.labels["release"] == "0.11.1-439-g8f91aaa5-dirty")
        #expect(issue.annotations["short_id"] == "DEVGUARD-API-5", "only the old sections carry the short id")
        #expect(issue.hostHints.isEmpty)

        let current = try GlitchTipMessage.parse(try AlertFixtures.glitchtipCurrent(serverName: "qfc-1.example.org"))[0]
        #expect(current.hostHints == ["qfc-1.example.org"] && current.annotations["culprit"] == "apps/sync/views.py in upload")
        #expect(current.annotations["short_id"] == nil && current.summary == "apps/sync/views.py in upload")

        let down = try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site has gone down."))[0]
        let up = try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site is back up."))[0]
        #expect(down.uptime && down.status == .firing && up.status == .resolved && down.key == up.key)

        func refusal(_ data: Data) -> String? {
            do { _ = try GlitchTipMessage.parse(data); return nil } catch { return "\(error)" }
        }
        #expect(refusal(Data("{\"text\": \"GlitchTip Alert\"}".utf8))?.contains("no attachments") == true)
        #expect(refusal(Data("{\"attachments\": [{\"title\": \"x\"}]}".utf8))?.contains("no title_link") == true)
        #expect(refusal(Data("[]".utf8))?.contains("not a GlitchTip webhook") == true)
    }

    @Test func alertsMapToHostsByLabelWithThePortStripped() throws {
        var config = try IngestTestSupport.config()
        config.glitchtipProjects = ["devguard-api": "qfc-2"]
        let mapping = AlertMapping(config: config)
        let hosts: Set<String> = ["qfc-1", "qfc-2", "db.internal"]
        func alert(_ hints: [String], project: String? = nil) -> IngestedAlert {
            IngestedAlert(source: .alertmanager, key: "k", name: "X", status: .firing, labels: [:], annotations: [:], hostHints: hints, project: project)
        }
        #expect(mapping.host(of: alert(["qfc-1:9100"]), hosts: hosts) == .host("qfc-1"))
        #expect(mapping.host(of: alert(["qfc-1.example.org:9100"]), hosts: hosts) == .host("qfc-1"))
        #expect(mapping.host(of: alert(["db.internal:5432"]), hosts: hosts) == .host("db.internal"))
        #expect(mapping.host(of: alert(["elsewhere:9100", "qfc-2"]), hosts: hosts) == .host("qfc-2"), "the next label is tried")
        #expect(mapping.host(of: alert(["elsewhere:9100"]), hosts: hosts) == .unknown(["elsewhere"]))
        #expect(mapping.host(of: alert([], project: "devguard-api"), hosts: hosts) == .host("qfc-2"))
        #expect(AlertMapping.stripPort("[::1]:9100") == "::1" && AlertMapping.stripPort("fe80::1") == "fe80::1")

        // A mapped alertname is the agent's own code; others are alert.<alertname>.
        let labels = ["service": "worker_wrapper", "severity": "critical"]
        let mapped = mapping.finding(of: IngestedAlert(source: .alertmanager, key: "k", name: "QFieldCloudWorkerDown", status: .firing, labels: labels,
                                                       annotations: [:], hostHints: []), host: "qfc-1")
        #expect(mapped.kind == .serviceDown && mapped.subject == "worker_wrapper" && mapped.severity == .critical)
        let generic = mapping.finding(of: IngestedAlert(source: .alertmanager, key: "k", name: "HostDiskSpaceLow", status: .firing, labels: ["mountpoint": "/"],
                                                        annotations: [:], hostHints: []), host: "qfc-1")
        #expect(generic.code == "alert.HostDiskSpaceLow" && generic.kind == nil && generic.subject == "/" && generic.severity == .warning)
        #expect(TicketPriority.of(generic) == .p3 && Playbook.builtIn.plan(for: [generic]).plan.steps.isEmpty, "a generic alert has no fix of its own")

        // What explains an alert ticket: its own code (any subject when none was named), or anything for a generic one.
        let down = TicketFixture.down("worker_wrapper"), disk = Finding(.diskHigh, severity: .warning, subject: "/", message: "full")
        #expect(AlertMapping.explaining([mapped], in: [disk, down]) == [down])
        #expect(AlertMapping.explaining([Finding(.serviceDown, severity: .critical, subject: "", message: "")], in: [disk, down]) == [down])
        #expect(AlertMapping.explaining([generic], in: [disk, down]) == [disk, down])
    }
}

enum IngestTestSupport {
    static let token = "alertmanager-token-for-tests"
    static let glitchtipToken = "glitchtip-path-token-0123456789abcdefABCDEF"

    static func config(findings: [String: FindingCode] = ["QFieldCloudWorkerDown": .serviceDown]) throws -> IngestConfig {
        IngestConfig(listen: ListenAddress("127.0.0.1:0")!, tls: false, alertmanagerTokenFile: "/x", glitchtipTokenFile: "/y",
                     hostLabels: IngestConfig.defaultHostLabels, findings: findings, glitchtipProjects: [:])
    }

    static func service(_ t: TicketFixture) throws -> IngestService {
        IngestService(engine: t.engine, store: t.fleet.store, config: try config(), logger: t.logger)
    }

    static func api(_ t: TicketFixture) throws -> IngestAPI {
        IngestAPI(service: try service(t), config: try config(),
                  secrets: IngestSecrets(alertmanagerToken: Secret(token), glitchtipToken: Secret(glitchtipToken)),
                  authenticator: nil, rejections: RejectionLog(store: t.fleet.store, clock: t.fleet.clock), logger: t.logger)
    }

    static func workerDown(_ status: String = "firing", host: String = "vps-1:9100", fingerprint: String = "aaaa000011112222") throws -> Data {
        try AlertFixtures.alertmanager("QFieldCloudWorkerDown", labels: ["instance": host, "service": "worker_wrapper", "severity": "critical"],
                                       status: status, fingerprint: fingerprint)
    }
}

@Suite struct IngestServiceTests {
    func receive(_ t: TicketFixture, _ data: Data, via shared: IngestService? = nil) async throws {
        let service = try shared ?? IngestTestSupport.service(t)
        try await service.receive(try AlertmanagerMessage.parse(data, hostLabels: IngestConfig.defaultHostLabels).alerts, source: .alertmanager)
        await service.drain()
    }

    @Test func aFiringAlertOpensOneTicketARepeatJoinsItAndTheFixIsVerifiedOnTheHost() async throws {
        let t = try await TicketFixture()
        t.host.findings = [TicketFixture.down("worker_wrapper")]
        try await receive(t, try IngestTestSupport.workerDown())
        try await receive(t, try IngestTestSupport.workerDown())
        var tickets = try await t.fleet.store.allTickets()
        #expect(tickets.count == 1, "one ticket per host × fingerprint")
        let opened = try #require(tickets.first)
        #expect(opened.source == .alert && opened.host == "vps-1" && opened.seeds?.first?.code == "service.down")
        #expect(opened.alerts?.first?.count == 2 && opened.alerts?.first?.firing == true)
        #expect(opened.priority(t.config.playbook) == .p1, "the worker down is P1, as the same finding from a probe")

        try await t.settle()
        tickets = try await t.fleet.store.allTickets()
        let resolved = try #require(tickets.first)
        #expect(resolved.state == .resolved, "\(resolved.timeline.map(\.text))")
        #expect(t.host.executed.contains("start_service(worker_wrapper)"), "\(t.host.executed)")
        #expect(resolved.issueNumber != nil, "a GitHub issue is opened for it")
        #expect(t.github.issues[resolved.issueNumber!]?.labels.contains("fieldmedic:proactive") == true)

        // Alertmanager's resolution is noted on the closed ticket; nothing reopens.
        try await receive(t, try IngestTestSupport.workerDown("resolved"))
        let after = try #require(try await t.fleet.store.allTickets().first)
        #expect(after.state == .resolved && after.alerts?.first?.firing == false)
        #expect(after.timeline.contains { $0.text.contains("QFieldCloudWorkerDown resolved") })
        #expect(try await t.fleet.store.allTickets().count == 1)
        #expect(try await t.fleet.store.ingestCounts()["applied"] == 3)
    }

    @Test func anAlertResolvesItsTicketOnlyAfterFieldMedicHasLookedAtTheHost() async throws {
        let t = try await TicketFixture()
        // HostDiskSpaceLow is not mapped: finding alert.HostDiskSpaceLow.
        let edited = try AlertFixtures.edited("alertmanager-webhook-firing") { b in
            var alert = (b["alerts"] as! [[String: Any]])[0]
            var labels = alert["labels"] as! [String: String]
            labels["instance"] = "vps-1.example.org:9100"
            alert["labels"] = labels
            b["alerts"] = [alert]
        }
        try await receive(t, edited)
        try await t.settle()
        let escalated = try #require(try await t.fleet.store.allTickets().first)
        #expect(escalated.state == .escalated, "nothing on the host explains it: a person looks")
        #expect(escalated.reason?.contains("finds nothing that explains it") == true, "\(escalated.reason ?? "")")
        #expect(escalated.seeds?.first?.code == "alert.HostDiskSpaceLow")

        let resolvedBody = try AlertFixtures.edited("alertmanager-webhook-resolved") { b in
            var alert = (b["alerts"] as! [[String: Any]])[0]
            var labels = alert["labels"] as! [String: String]
            labels["instance"] = "vps-1.example.org:9100"
            alert["labels"] = labels
            b["alerts"] = [alert]
        }
        try await receive(t, resolvedBody)
        let rerun = try #require(try await t.fleet.store.allTickets().first)
        #expect(rerun.state == .received && rerun.run == 2, "the resolution starts a check of the host, it does not close the ticket")
        try await t.settle()
        let closed = try #require(try await t.fleet.store.allTickets().first)
        #expect(closed.state == .resolved && closed.verdict?.contains("verified") == true, "\(closed.verdict ?? "")")
        let diagnoses = t.host.executed.filter { $0 == "diagnose" }.count
        #expect(diagnoses == 2, "\(t.host.executed)")
    }

    /// Half a look is no verification: a resolved alert whose re-check has a probe that could
    /// not look stays escalated and says what was not checked.
    @Test func aResolvedAlertIsNotVerifiedOnHalfALook() async throws {
        let t = try await TicketFixture()
        func edited(_ fixture: String) throws -> Data {
            try AlertFixtures.edited(fixture) { b in
                var alert = (b["alerts"] as! [[String: Any]])[0]
                var labels = alert["labels"] as! [String: String]
                labels["instance"] = "vps-1.example.org:9100"
                alert["labels"] = labels
                b["alerts"] = [alert]
            }
        }
        try await receive(t, try edited("alertmanager-webhook-firing"))
        try await t.settle()
        t.host.with { t.host.probes = [ProbeSummary(name: "docker", durationMs: 1), ProbeSummary(name: "queue", durationMs: 1, error: "psql cannot run in the db container", fix: "set [queue] mode = \"dsn\"")] }
        try await receive(t, try edited("alertmanager-webhook-resolved"))
        try await t.settle()
        let ticket = try #require(try await t.fleet.store.allTickets().first)
        #expect(ticket.state == .escalated, "\(ticket.timeline.map(\.text))")
        #expect(ticket.nextSteps.contains { $0.contains("Not checked") && $0.contains("psql") }, "\(ticket.nextSteps)")
    }

    @Test func alertsStoredBeforeARestartAreHandledByTheNextCoordinator() async throws {
        let t = try await TicketFixture()
        let before = try IngestTestSupport.service(t)
        try await before.receive(try AlertmanagerMessage.parse(try IngestTestSupport.workerDown(), hostLabels: IngestConfig.defaultHostLabels).alerts,
                                 source: .alertmanager)
        // The coordinator stops here (answered, not yet turned into a ticket); a new one reopens the store.
        let reopened = try SQLiteCoordinatorStore(path: t.fleet.directory + "/coordinator.sqlite3")
        let engine = TicketEngine(store: reopened, fleet: t.fleet.fleet, config: t.config, clock: t.fleet.clock, logger: t.logger)
        let after = IngestService(engine: engine, store: reopened, config: try IngestTestSupport.config(), logger: t.logger)
        #expect(await after.drain() == 1)
        let tickets = try await reopened.allTickets().count
        let pending = try await reopened.ingestCounts()["pending"]
        #expect(tickets == 1 && pending == 0)
    }

    @Test func anAlertAboutAFaultATicketOwnsIsAddedToIt() async throws {
        let t = try await TicketFixture()
        let down = TicketFixture.down("worker_wrapper")
        var ticket = Ticket(source: .finding, title: "service.down on vps-1", body: "host: vps-1", author: "fieldmedic", now: t.fleet.clock.now())
        ticket.host = "vps-1"
        ticket.seeds = [down]
        ticket.findingKey = "vps-1|service.down|worker_wrapper"
        let owner = try await t.engine.open(ticket, via: "fieldmedic").ticket
        try await receive(t, try IngestTestSupport.workerDown())
        let tickets = try await t.fleet.store.allTickets()
        #expect(tickets.count == 1)
        #expect(tickets.first?.id == owner.id && tickets.first?.alerts?.first?.name == "QFieldCloudWorkerDown")
        #expect(tickets.first?.timeline.contains { $0.text.contains("joined this ticket") } == true)
    }

    /// The owner lookup asks SQLite for the tickets whose document names the code: a code
    /// with characters JSON escapes (a slash, a quote) must still be found, so a second alert
    /// about the same fault joins the first one's ticket.
    @Test func anAlertWhoseCodeJSONEscapesStillFindsTheTicketThatOwnsItsFault() async throws {
        let t = try await TicketFixture()
        for fingerprint in ["cccc000011112222", "dddd000011112222"] {
            try await receive(t, try AlertFixtures.alertmanager("Disk/\"root\" full", labels: ["instance": "vps-1:9100", "severity": "warning"], fingerprint: fingerprint))
        }
        let tickets = try await t.fleet.store.allTickets()
        #expect(tickets.count == 1, "\(tickets.map(\.title))")
        #expect(tickets.first?.seeds?.first?.code == "alert.Disk/\"root\" full" && tickets.first?.alerts?.count == 2)
        let candidates = try await t.fleet.store.unclosedTickets(host: "vps-1", naming: "alert.Disk/\"root\" full", findingKey: "-")
        #expect(candidates.map(\.id) == tickets.map(\.id))
        #expect(try await t.fleet.store.unclosedTickets(host: "vps-1", naming: "alert.Disk", findingKey: "-").isEmpty, "the whole code, not a prefix")
    }

    @Test func anUnknownHostIsStoredAndReportedAndASilenceIsHonoured() async throws {
        let t = try await TicketFixture()
        let service = try IngestTestSupport.service(t)
        try await receive(t, try IngestTestSupport.workerDown(host: "elsewhere.example.org:9100"), via: service)
        #expect(try await t.fleet.store.allTickets().isEmpty)
        let stored = try await t.fleet.store.storedAlerts(limit: 10)
        #expect(stored.count == 1 && stored[0].state == .unknownHost && stored[0].outcome?.contains("elsewhere.example.org") == true)
        try await receive(t, try IngestTestSupport.workerDown(host: "elsewhere.example.org:9100", fingerprint: "cccc"), via: service)
        try await receive(t, try IngestTestSupport.workerDown(host: "elsewhere.example.org:9100", fingerprint: "dddd"), via: service)
        let audit = try await t.fleet.store.auditRows(since: nil)
        #expect(audit.filter { $0.action == "ingest.failed" && $0.details.contains("unknown_host") }.count == 1,
                "the same failure within a minute is folded into the next report")
        #expect(try await t.fleet.store.ingestCounts()["unknown_host"] == 3, "every alert is kept")
        t.fleet.clock.advance(61)
        try await receive(t, try IngestTestSupport.workerDown(host: "elsewhere.example.org:9100", fingerprint: "eeee"), via: service)
        let later = try await t.fleet.store.auditRows(since: nil).filter { $0.action == "ingest.failed" && $0.details.contains("unknown_host") }
        #expect(later.count == 2 && later.last?.details.contains("\"folded\":\"2\"") == true, "\(later.map(\.details))")
        // People are told through the outbox, once per failure an hour: the second report of the
        // same failure within the hour has the same dedupe key, so the outbox keeps one event.
        let told = try await t.fleet.store.unroutedEvents(limit: 50).map(\.event).filter { $0.kind == .ingestFailed }
        #expect(told.count == 1, "\(told.map(\.dedupeKey))")
        #expect(told.first?.title == "Alerts from Alertmanager could not be taken in" && told.first?.lines.first?.contains("elsewhere.example.org") == true)

        let now = t.fleet.clock.now()
        _ = try await t.fleet.store.addSilence(
            SilenceRecord(id: 0, agent: "vps-1", finding: "service.down", until: now.addingTimeInterval(3600), reason: "maintenance", createdBy: "test", createdAt: now),
            audit: AuditEntry(at: now, actor: "test", action: "silence.added", subject: "vps-1", details: [:]))
        try await receive(t, try IngestTestSupport.workerDown(fingerprint: "bbbb"))
        #expect(try await t.fleet.store.allTickets().isEmpty)
        #expect(try await t.fleet.store.ingestCounts()["silenced"] == 1)
    }

    @Test func anUptimeMonitorThatGoesDownAndComesBackUpClosesOnTheHostsOwnCheck() async throws {
        let t = try await TicketFixture()
        let service = try IngestTestSupport.service(t)
        try await service.receive(try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site has gone down.", monitor: "vps-1")), source: .glitchtip)
        await service.drain()
        try await t.settle()
        let down = try #require(try await t.fleet.store.allTickets().first)
        #expect(down.host == "vps-1" && down.seeds?.first?.code == "alert.uptime" && down.state == .escalated, "\(down.timeline.map(\.text))")
        try await service.receive(try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site is back up.", monitor: "vps-1")), source: .glitchtip)
        await service.drain()
        try await t.settle()
        let up = try #require(try await t.fleet.store.allTickets().first)
        let count = try await t.fleet.store.allTickets().count
        #expect(up.state == .resolved && up.run == 2 && count == 1, "\(up.timeline.map(\.text))")
        // Down again soon after it was resolved (within [predict] reopen_within): the same
        // ticket reopens, as the watcher's do for findings.
        func goesDown() async throws {
            try await service.receive(try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site has gone down.", monitor: "vps-1")), source: .glitchtip)
            await service.drain()
        }
        t.fleet.clock.advance(600)
        try await goesDown()
        let reopened = try #require(try await t.fleet.store.allTickets().first)
        #expect(try await t.fleet.store.allTickets().count == 1)
        #expect(reopened.id == up.id && reopened.run == 3 && reopened.closedAt == nil && reopened.reopens.count == 1, "\(reopened.timeline.map(\.text))")
        #expect(reopened.alerts?.first?.firing == true && reopened.alerts?.first?.count == 3)
        #expect(reopened.timeline.contains { $0.text.contains("came back") }, "\(reopened.timeline.map(\.text))")
        #expect(try await t.fleet.store.auditRows(since: nil).contains { $0.action == "ticket.reopened" })
        let outcome = try #require(try await t.fleet.store.storedAlerts(limit: 1).first)
        #expect(outcome.ticket == up.id && outcome.outcome?.contains("reopened") == true, "\(outcome.outcome ?? "")")
        try await t.settle()
        #expect(try await t.fleet.store.allTickets().first?.state == .escalated)

        // Back up, verified and closed again; down again under a silence: stored as silenced, nothing reopens.
        try await service.receive(try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site is back up.", monitor: "vps-1")), source: .glitchtip)
        await service.drain()
        try await t.settle()
        let now = t.fleet.clock.now()
        _ = try await t.fleet.store.addSilence(
            SilenceRecord(id: 0, agent: "vps-1", finding: "alert.uptime", until: now.addingTimeInterval(60), reason: "maintenance", createdBy: "test", createdAt: now),
            audit: AuditEntry(at: now, actor: "test", action: "silence.added", subject: "vps-1", details: [:]))
        try await goesDown()
        let silenced = try #require(try await t.fleet.store.allTickets().first)
        #expect(silenced.state == .resolved && silenced.reopens.count == 1 && silenced.run == 4, "\(silenced.timeline.map(\.text))")
        #expect(try await t.fleet.store.ingestCounts()["silenced"] == 1)
        t.fleet.clock.advance(120)

        // Back up, verified and closed again; down again after reopen_within: a new occurrence, a ticket of its own.
        try await service.receive(try GlitchTipMessage.parse(try AlertFixtures.uptime("The monitored site is back up.", monitor: "vps-1")), source: .glitchtip)
        await service.drain()
        try await t.settle()
        let closedAgain = try #require(try await t.fleet.store.allTickets().first)
        #expect(closedAgain.state == .resolved && closedAgain.closedAt != nil, "\(closedAgain.timeline.map(\.text))")
        t.fleet.clock.advance(t.config.predict.reopenWithin + 60)
        try await goesDown()
        let all = try await t.fleet.store.allTickets()
        #expect(all.count == 2 && all.first { $0.id == up.id }?.state == .resolved, "\(all.map { ($0.id, $0.state) })")
    }

    @Test func aGlitchTipIssueOpensATicketDedupedByItsLink() async throws {
        let t = try await TicketFixture()
        let service = try IngestTestSupport.service(t)
        let body = try AlertFixtures.glitchtipCurrent(serverName: "vps-1")
        for _ in 0..<2 {
            try await service.receive(try GlitchTipMessage.parse(body), source: .glitchtip)
            await service.drain()
        }
        let tickets = try await t.fleet.store.allTickets()
        #expect(tickets.count == 1)
        #expect(tickets.first?.seeds?.first?.code == "alert.glitchtip" && tickets.first?.seeds?.first?.subject == "devguard-api")
        #expect(tickets.first?.alerts?.first?.count == 2 && tickets.first?.priority(t.config.playbook) == .p3)
    }
}

@Suite struct IngestHTTPTests {
    func post(_ t: TicketFixture, _ uri: String, _ body: Data, token: String? = IngestTestSupport.token) async throws -> (Int, String) {
        let router = try IngestTestSupport.api(t).makeRouter()
        return try await Application(router: router).test(.router) { client in
            var headers: HTTPFields = [.contentType: "application/json"]
            if let token { headers[.authorization] = "Bearer \(token)" }
            let response = try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body))
            return (Int(response.status.code), String(buffer: response.body))
        }
    }

    /// fieldmedic_alerts_ingested_total{source, result} as /metrics shows it (the process-wide
    /// registry; other tests may count too, so only growth is compared).
    static func ingested(_ result: String) -> Int {
        let text = String(decoding: CoordinatorMetrics.shared.registry.emitToBuffer(), as: UTF8.self)
        let prefix = #"fieldmedic_alerts_ingested_total{source="alertmanager",result="\#(result)"} "#
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func aGoodBodyIsStoredBeforeThe200AndABadOneIsRefusedWhole() async throws {
        let t = try await TicketFixture()
        let (stored0, bad0) = (Self.ingested("stored"), Self.ingested("bad_input"))
        let (ok, text) = try await post(t, "/v1/ingest/alertmanager", try AlertFixtures.data("alertmanager-webhook-truncated-bearer"))
        #expect(ok == 200 && text.contains("stored 1 alert") && text.contains("1 more left out"), "\(text)")
        #expect(try await t.fleet.store.ingestCounts()["pending"] == 1, "stored before the answer; the ticket comes after")
        #expect(try await t.fleet.store.auditRows(since: nil).contains { $0.action == "ingest.failed" && $0.details.contains("truncated") })

        let bad = try AlertFixtures.edited("alertmanager-webhook-firing") { body in
            var alerts = body["alerts"] as! [[String: Any]]
            var second = alerts[0]
            second["status"] = "pending"
            alerts.append(second)
            body["alerts"] = alerts
        }
        let (refused, reason) = try await post(t, "/v1/ingest/alertmanager", bad)
        #expect(refused == 400 && reason.contains("alerts[1]"), "\(reason)")
        #expect(Self.ingested("stored") >= stored0 + 1 && Self.ingested("bad_input") >= bad0 + 1, "counted for /metrics")
        let (tooBig, _) = try await post(t, "/v1/ingest/alertmanager", Data(repeating: 0x20, count: IngestAPI.maxBodyBytes + 1))
        #expect(tooBig == 413)
        #expect(try await t.fleet.store.storedAlerts(limit: 100).count == 1, "nothing of a refused body is kept")

        let (wrong, _) = try await post(t, "/v1/ingest/alertmanager", try AlertFixtures.data("alertmanager-webhook-firing"), token: "nope")
        #expect(wrong == 401)
        let (glitch, _) = try await post(t, "/v1/ingest/glitchtip/\(IngestTestSupport.glitchtipToken)", try AlertFixtures.data("glitchtip-webhook"), token: nil)
        #expect(glitch == 200)
        let (glitchWrong, _) = try await post(t, "/v1/ingest/glitchtip/\(IngestTestSupport.glitchtipToken)x", try AlertFixtures.data("glitchtip-webhook"), token: nil)
        #expect(glitchWrong == 401)
        #expect(try await t.fleet.store.storedAlerts(limit: 100).count == 2)
    }
}

extension IngestHTTPTests {
    /// Alertmanager retries only 5xx: a store that cannot take the alerts answers 503, so the
    /// delivery comes again; nothing is half stored.
    @Test func aStoreThatCannotWriteAnswers503SoAlertmanagerRetries() async throws {
        let t = try await TicketFixture()
        let readOnly = try SQLiteCoordinatorStore(path: t.fleet.directory + "/coordinator.sqlite3", readonly: true)
        let engine = TicketEngine(store: readOnly, fleet: t.fleet.fleet, config: t.config, clock: t.fleet.clock, logger: t.logger)
        let config = try IngestTestSupport.config()
        let api = IngestAPI(service: IngestService(engine: engine, store: readOnly, config: config, logger: t.logger), config: config,
                            secrets: IngestSecrets(alertmanagerToken: Secret(IngestTestSupport.token), glitchtipToken: nil),
                            authenticator: nil, rejections: RejectionLog(store: readOnly, clock: t.fleet.clock), logger: t.logger)
        let status = try await Application(router: api.makeRouter()).test(.router) { client in
            try await client.execute(uri: "/v1/ingest/alertmanager", method: .post, headers: [.authorization: "Bearer \(IngestTestSupport.token)"],
                                     body: ByteBuffer(data: try AlertFixtures.data("alertmanager-webhook-firing"))).status.code
        }
        #expect(status == 503)
        #expect(try await t.fleet.store.storedAlerts(limit: 10).isEmpty)
    }
}

@Suite struct IngestConfigTests {
    func load(_ body: String) throws -> CoordinatorConfig {
        let path = NSTemporaryDirectory() + "fm-ingest-" + UUID().uuidString + ".toml"
        try "data_dir = \"/tmp/fm\"\n\(body)".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        return try CoordinatorConfig.load(path: path)
    }

    func refusal(_ body: String) -> String? {
        do { _ = try load(body); return nil } catch { return "\(error)" }
    }

    @Test func theIngestSectionIsReadAndCheckedWithItsBounds() throws {
        #expect(try load("").ingest == nil, "off unless configured")
        let config = try load("""
            [listen]
            ingest = "127.0.0.1:8092"
            [ingest]
            alertmanager_token_file = "/etc/fieldmedic/am.token"
            host_labels = ["instance", "nodename"]
            [ingest.alertmanager.findings]
            QFieldCloudWorkerDown = "service.down"
            [ingest.glitchtip.projects]
            qfieldcloud = "qfc-1"
            """)
        let ingest = try #require(config.ingest)
        #expect(ingest.listen.port == 8092 && ingest.hostLabels == ["instance", "nodename"] && !ingest.tls)
        #expect(ingest.findings == ["QFieldCloudWorkerDown": .serviceDown] && ingest.glitchtipProjects == ["qfieldcloud": "qfc-1"])
        #expect(config.warnings.isEmpty)

        #expect(refusal("[listen]\ningest = \"127.0.0.1:8092\"\n")?.contains("needs a way to authenticate") == true)
        #expect(refusal("[ingest]\nalertmanager_token_file = \"/x\"\n")?.contains("[ingest] needs a listener") == true)
        #expect(refusal("[listen]\ningest = \"127.0.0.1:8092\"\n[ingest]\nalertmanager_token_file = \"x\"\n")?.contains("absolute path") == true)
        #expect(refusal("[listen]\ningest = \"127.0.0.1:8092\"\n[ingest]\ntls = true\n[ingest.alertmanager.findings]\nX = \"service.gone\"\n")?.contains("must be a finding code") == true)
        #expect(refusal("[listen]\ningest = \"127.0.0.1:8092\"\n[ingest]\ntls = true\nhost_labels = [\"in-stance\"]\n")?.contains("host_labels") == true)
        #expect(refusal("[listen]\ningest = \"127.0.0.1:8092\"\n[ingest]\ntls = true\nfindings = 1\n")?.contains("unknown key") == true)
        let open = try load("[listen]\ningest = \"0.0.0.0:8092\"\n[ingest]\nalertmanager_token_file = \"/x\"\n")
        #expect(open.warnings.contains { $0.contains("listen.ingest") })
    }

    @Test func aShortOrUnsafeGlitchTipTokenIsRefusedByTheCheckServeAndCheckConfigShare() throws {
        let directory = NSTemporaryDirectory() + "fm-ingest-secrets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = try IngestTestSupport.config()
        config.alertmanagerTokenFile = directory + "/am.token"
        config.glitchtipTokenFile = directory + "/gt.token"
        try SecretFile.write("am-token\n", to: config.alertmanagerTokenFile!)
        try SecretFile.write("short\n", to: config.glitchtipTokenFile!)
        #expect(throws: OperationalError.self) { try IngestSecrets.load(config) }
        try SecretFile.write(String(repeating: "a/b", count: 20) + "\n", to: config.glitchtipTokenFile!)
        #expect(throws: OperationalError.self) { try IngestSecrets.load(config) }
        try SecretFile.write(IngestTestSupport.glitchtipToken + "\n", to: config.glitchtipTokenFile!)
        let secrets = try IngestSecrets.load(config)
        #expect(secrets.glitchtipToken?.matches(IngestTestSupport.glitchtipToken) == true && "\(secrets.alertmanagerToken!)" == Secret.redactedText)
        chmod(config.alertmanagerTokenFile!, 0o644)
        #expect(throws: (any Error).self, "a token file others can read is refused") { try IngestSecrets.load(config) }
    }
}
