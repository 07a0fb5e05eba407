import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct AccessLogParsingTests {
    @Test func readsNginxsCombinedFormat() throws {
        let line = #"172.18.0.1 - - [30/Nov/2026:02:09:10 +0000] "POST /api/v1/files/3f2a/DCIM/photo.jpg?client=qfield HTTP/1.1" 413 183 "-" "qfield|3.4.2""#
        let entry = try #require(AccessLogEntry.parse(line[...]))
        #expect(entry.status == 413)
        #expect(entry.path == "/api/v1/files/3f2a/DCIM/photo.jpg?client=qfield")
        #expect(entry.family == .files)
        #expect(entry.host == nil)
    }

    @Test func readsQFieldCloudsJSONLoggerFormat() throws {
        let line = #"{"ts":"2026-11-30T02:09:10.123+00:00","ip":"10.0.0.7","method":"GET","status":504,"resp_time":300.002,"request_length":512,"resp_body_size":160,"uri":"/api/v1/packages/3f2a/latest/","connection": "17","connection_requests": "1","user_agent":"qfield","host":"qfield.example.org","user":"","upstream_addr":"172.18.0.5:8000","upstream_connect_time":"0.001","upstream_header_time":"-","upstream_response_time":"300.001","request_id":"abc","source":"nginx"}"#
        let entry = try #require(AccessLogEntry.parse(line[...]))
        #expect(entry.status == 504)
        #expect(entry.family == .packages)
        #expect(entry.host == "qfield.example.org")
    }

    @Test func nginxsOwnMessagesAreNoRequests() {
        #expect(AccessLogEntry.parse("2026/11/30 02:09:10 [notice] 1#1: start worker processes") == nil)
        #expect(AccessLogEntry.parse("/docker-entrypoint.sh: Configuration complete; ready for start up") == nil)
        #expect(AccessLogEntry.parse("") == nil)
        #expect(AccessLogEntry.parse("{not json") == nil)
    }

    @Test func aRequestNginxCouldNotParseStillCounts() throws {
        let entry = try #require(AccessLogEntry.parse(#"1.2.3.4 - - [30/Nov/2026:02:09:10 +0000] "\x16\x03\x01" 400 157 "-" "-""#))
        #expect(entry.status == 400)
        #expect(entry.family == .other)
    }

    @Test func endpointFamiliesFollowQFieldCloudsRoutes() {
        #expect(EndpointFamily(path: "/api/v1/files/3f2a/") == .files)
        #expect(EndpointFamily(path: "/api/v1/files/3f2a/data.gpkg?version=2") == .files)
        #expect(EndpointFamily(path: "/api/v1/packages/3f2a/latest/files/data.gpkg") == .packages)
        #expect(EndpointFamily(path: "/api/v1/deltas/3f2a/") == .deltas)
        #expect(EndpointFamily(path: "/api/v1/deltas/apply/3f2a/") == .deltas)
        #expect(EndpointFamily(path: "/api/v1/status/") == .status)
        #expect(EndpointFamily(path: "/api/v1/projects/") == .other)
        #expect(EndpointFamily(path: "/") == .other)
        #expect(EndpointFamily(path: "/wp-login.php?files/") == .other)
    }
}

@Suite struct DockerLogCursorTests {
    @Test func timestampsAreExactToTheNanosecond() throws {
        let time = try #require(LogTimestamp("2026-11-30T02:09:10.123456789Z"))
        #expect(time.sinceParameter == "1796004550.123456789")
        #expect(LogTimestamp("2026-11-30T03:09:10.123456789+01:00") == time)
        #expect(LogTimestamp("2026-11-30T02:09:10Z")?.sinceParameter == "1796004550.000000000")
        #expect(LogTimestamp("2026-11-30T02:09:10.5Z")?.nanoseconds == 500_000_000)
        #expect(LogTimestamp("1970-01-01T00:00:00Z")?.seconds == 0)
        #expect(LogTimestamp("yesterday") == nil)
        #expect(LogTimestamp("2026-11-30 02:09:10Z") == nil)
    }

    @Test func eachLineIsTakenOnceAlsoWhenSeveralShareATimestamp() throws {
        var cursor = DockerLogCursor(containerID: "c", start: try #require(LogTimestamp("2026-11-30T02:00:00Z")))
        let first = """
            2026-11-30T01:59:59.000000001Z before the start
            2026-11-30T02:00:01.000000000Z a
            2026-11-30T02:00:02.000000000Z b
            2026-11-30T02:00:02.000000000Z c

            """
        #expect(cursor.advance(over: first[...]).map(\.line) == ["a", "b", "c"])
        #expect(cursor.sinceParameter == "1796004002.000000000")
        // The engine's `since` is inclusive: it repeats b and c, then a third line at that time.
        let second = """
            2026-11-30T02:00:02.000000000Z b
            2026-11-30T02:00:02.000000000Z c
            2026-11-30T02:00:02.000000000Z d
            2026-11-30T02:00:03.000000000Z e
            garbage without a timestamp

            """
        #expect(cursor.advance(over: second[...]).map(\.line) == ["d", "e"])
        #expect(cursor.advance(over: "2026-11-30T02:00:03.000000000Z e\n"[...]).isEmpty)
    }
}

@Suite struct ProxyErrorWindowTests {
    func at(_ text: String) -> LogTimestamp { LogTimestamp(text[...])! }
    func entry(_ status: Int, _ path: String, host: String? = nil) -> AccessLogEntry { AccessLogEntry(status: status, path: path, host: host) }

    @Test func countsRequestsAndErrorsPerFamily() {
        var window = ProxyErrorWindow(length: 900)
        for _ in 0..<8 { window.record(entry(200, "/api/v1/files/p/"), at: at("2026-11-30T02:00:00Z"), host: nil) }
        window.record(entry(413, "/api/v1/files/p/big.gpkg?token=secret"), at: at("2026-11-30T02:00:01Z"), host: nil)
        window.record(entry(413, "/api/v1/files/p/big.gpkg"), at: at("2026-11-30T02:01:01Z"), host: nil)
        window.record(entry(404, "/api/v1/files/p/none"), at: at("2026-11-30T02:01:01Z"), host: nil)
        window.record(entry(502, "/api/v1/deltas/p/"), at: at("2026-11-30T02:01:01Z"), host: nil)
        #expect(window.requests[.files] == 11)
        #expect(window.requests[.deltas] == 1)
        #expect(window.errors[.init(status: 413, family: .files)] == 2)
        #expect(window.errors[.init(status: 404, family: .files)] == nil, "a 404 is the client's business")
        #expect(window.errors[.init(status: 502, family: .deltas)] == 1)
        #expect(window.samples[.init(status: 413, family: .files)] == "/api/v1/files/p/big.gpkg", "no query string: it may carry a token")
    }

    @Test func scannersDroppedWith444AreNoFaultButAHostDifferingOnlyInCaseIs() {
        var window = ProxyErrorWindow(length: 900)
        let time = at("2026-11-30T02:00:00Z")
        window.record(entry(444, "/wp-login.php", host: "203.0.113.9"), at: time, host: "qfield.example.org")
        window.record(entry(444, "/"), at: time, host: "qfield.example.org")
        #expect(window.errors.isEmpty)
        window.record(entry(444, "/", host: "qfield.example.org"), at: time, host: "QField.example.org")
        window.record(entry(444, "/api/v1/files/p/"), at: time, host: "qfield.example.org")
        #expect(window.errors[.init(status: 444, family: .other)] == 1)
        #expect(window.errors[.init(status: 444, family: .files)] == 1)
    }

    @Test func djangosCSRFRefusalsOfFormPostsCountButAPIPermissionAnswersDoNot() throws {
        var window = ProxyErrorWindow(length: 900)
        let time = at("2026-11-30T02:00:00Z")
        let login = try #require(AccessLogEntry.parse(#"10.0.0.2 - - [30/Nov/2026:02:00:00 +0000] "POST /accounts/login/ HTTP/1.1" 403 2491 "https://qfield.example.org/accounts/login/" "Firefox""#))
        #expect(login.method == "POST")
        window.record(login, at: time, host: nil)
        window.record(AccessLogEntry(status: 403, path: "/admin/core/job/", host: nil, method: "GET"), at: time, host: nil)
        window.record(AccessLogEntry(status: 403, path: "/api/v1/projects/p/", host: nil, method: "DELETE"), at: time, host: nil)
        let json = try #require(AccessLogEntry.parse(#"{"method":"POST","status":403,"uri":"/admin/login/","host":"qfield.example.org"}"#))
        window.record(json, at: time, host: nil)
        #expect(window.errors[.init(status: 403, family: .other)] == 2, "the two form posts; not the GET, not the API's DELETE")
        #expect(window.requests[.other] == 4)
    }

    @Test func minutesOutsideTheWindowAreForgotten() {
        var window = ProxyErrorWindow(length: 600)
        window.record(entry(502, "/api/v1/status/"), at: at("2026-11-30T02:00:00Z"), host: nil)
        window.record(entry(504, "/api/v1/status/"), at: at("2026-11-30T02:09:30Z"), host: nil)
        window.prune(now: at("2026-11-30T02:11:01Z").date)  // to the minute: 02:00 has left
        #expect(window.errors.keys.map(\.status) == [504])
        #expect(window.samples.keys.map(\.status) == [504])
        #expect(window.requests[.status] == 1)
    }
}

@Suite struct ProxyErrorsProbeTests {
    static let start = LogTimestamp("2026-11-30T02:00:00Z"[...])!

    func probe(_ engine: FakeDockerEngine, now: LockedValue<Date>, host: String? = nil) -> ProxyErrorsProbe {
        ProxyErrorsProbe(engine: engine, project: "qfieldcloud", host: host, window: 900, errorPercent: 5, minimumErrors: 3, now: { now.value })
    }

    func combined(_ status: Int, _ path: String) -> String {
        #"172.18.0.1 - - [30/Nov/2026:02:00:00 +0000] "POST \#(path) HTTP/1.1" \#(status) 183 "-" "QField/3.4""#
    }

    @Test func eachCycleAsksOnlyForLinesAfterTheLastOneItRead() async throws {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let now = LockedValue(Self.start.date)
        let probe = probe(engine, now: now)
        engine.appendLog("nginx", combined(200, "/api/v1/files/p/a"), at: "2026-11-30T01:00:00.000000000Z")
        engine.appendLog("nginx", combined(200, "/api/v1/files/p/a"), at: "2026-11-30T01:59:00.000000000Z")
        _ = await probe.collect()
        #expect(engine.logQueries.map(\.since) == ["1796003100.000000000"], "the first read starts one window back, not at the log's start")
        #expect(probe.linesReadLastCycle == 1)

        engine.appendLog("nginx", combined(413, "/api/v1/files/p/b"), at: "2026-11-30T02:00:10.250000000Z")
        now.value = Self.start.date.addingTimeInterval(60)
        _ = await probe.collect()
        #expect(engine.logQueries.last?.since == "1796003940.000000000", "from the last line read")
        #expect(probe.linesReadLastCycle == 1)

        now.value = Self.start.date.addingTimeInterval(120)
        _ = await probe.collect()
        #expect(engine.logQueries.last?.since == "1796004010.250000000")
        #expect(engine.logQueries.last?.lines == 1, "the engine repeats the line at `since`")
        #expect(probe.linesReadLastCycle == 0, "and the cursor does not count it again")
    }

    @Test func itAsksForTheLogsTailAndWidensItWhenMoreLinesCameThanItAskedFor() async throws {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let now = LockedValue(Self.start.date.addingTimeInterval(900))
        for n in 0..<2500 {
            engine.appendLog("nginx", combined(n < 2497 ? 200 : 502, "/api/v1/deltas/p/"), at: "2026-11-30T02:10:00.\(String(format: "%09d", n))Z")
        }
        let probe = probe(engine, now: now)
        let result = await probe.collect()
        #expect(engine.logQueries.map(\.tail) == [ProxyErrorsProbe.minimumTail, ProxyErrorsProbe.minimumTail * 8])
        #expect(probe.linesReadLastCycle == 2500, "no line left out")
        #expect(result.findings.isEmpty, "3 of 2500")
        // The next cycle asks for about what the last one needed.
        engine.appendLog("nginx", combined(200, "/api/v1/deltas/p/"), at: "2026-11-30T02:11:00Z")
        _ = await probe.collect()
        #expect(engine.logQueries.last?.tail == 5000)
        #expect(probe.linesReadLastCycle == 1)
    }

    @Test func ratesAboveTheThresholdsRaiseOneFindingPerStatusWithItsNextStep() async throws {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let now = LockedValue(Self.start.date.addingTimeInterval(300))
        for second in 0..<20 { engine.appendLog("nginx", combined(200, "/api/v1/files/p/x"), at: "2026-11-30T02:01:\(String(format: "%02d", second))Z") }
        for second in 20..<24 { engine.appendLog("nginx", combined(413, "/api/v1/files/p/big.zip"), at: "2026-11-30T02:01:\(second)Z") }
        for second in 30..<33 { engine.appendLog("nginx", combined(504, "/api/v1/packages/p/latest/"), at: "2026-11-30T02:01:\(second)Z") }
        for second in 40..<42 { engine.appendLog("nginx", combined(502, "/api/v1/deltas/p/"), at: "2026-11-30T02:01:\(second)Z") }
        let result = await probe(engine, now: now).collect()
        #expect(result.error == nil)
        #expect(result.findings.map(\.subject) == ["nginx:413", "nginx:504"], "two 502s stay under proxy_error_min = 3")
        let upload = try #require(result.findings.first)
        #expect(upload.code == "proxy.errors")
        #expect(upload.severity == .critical)
        #expect(upload.message.contains("4 of 24 files requests (17%)"))
        #expect(upload.message.contains("NGINX_CLIENT_MAX_BODY_SIZE"))
        #expect(upload.evidence["files_errors"] == "4")
        #expect(upload.evidence["files_requests"] == "24")
        #expect(upload.evidence["files_sample"] == "/api/v1/files/p/big.zip")
        let timeout = result.findings[1]
        #expect(timeout.message.contains("3 of 3 packages requests (100%)"))
        #expect(timeout.message.contains("NGINX_PROXY_READ_TIMEOUT"))
    }

    @Test func aLowRateIsNoFinding() async {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let now = LockedValue(Self.start.date.addingTimeInterval(300))
        for second in 0..<59 { engine.appendLog("nginx", combined(200, "/api/v1/status/"), at: "2026-11-30T02:01:\(String(format: "%02d", second))Z") }
        for second in 0..<3 { engine.appendLog("nginx", combined(502, "/api/v1/status/"), at: "2026-11-30T02:02:0\(second)Z") }
        let result = await probe(engine, now: now).collect()
        #expect(result.findings.isEmpty, "3 of 62 is under 5 %")
    }

    @Test func withoutAnNginxContainerTheProbeSaysItCouldNotLook() async {
        let engine = FakeDockerEngine()
        engine.add("app")
        let result = await probe(engine, now: LockedValue(Self.start.date)).collect()
        #expect(result.findings.isEmpty)
        #expect(result.error?.contains("no nginx container") == true)
        #expect(result.fix != nil)
    }

    @Test func everyStatusCodeNamesItsNextStep() {
        #expect(ProxyErrorsProbe.nextStep(status: 413).contains("client_max_body_size"))
        #expect(ProxyErrorsProbe.nextStep(status: 444).contains("QFIELDCLOUD_HOST"))
        #expect(ProxyErrorsProbe.nextStep(status: 444).contains("lowercase"))
        #expect(ProxyErrorsProbe.nextStep(status: 499).contains("docker compose logs"))
        #expect(ProxyErrorsProbe.nextStep(status: 500).contains("QFIELDCLOUD_WORKER_QFIELDCLOUD_URL"))
        #expect(ProxyErrorsProbe.nextStep(status: 502).contains("docker compose ps app"))
        #expect(ProxyErrorsProbe.nextStep(status: 504).contains("NGINX_PROXY_READ_TIMEOUT"))
        #expect(ProxyErrorsProbe.nextStep(status: 507).contains("docker compose logs"))
    }
}
