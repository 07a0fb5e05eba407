import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// The Engine API's answers as a real engine wrote them (captured into the fuzz corpus from
/// the private dockerd: a testbed worker killed and started, with its network's events).
@Suite struct DockerJSONTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/docker").path

    @Test func aReplayedEventStreamIsReadLineByLineWithItsTimes() throws {
        let body = try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/events.jsonl"))
        let events = DockerJSON.timedEvents(body)
        #expect(events.map(\.action) == ["kill", "die", "disconnect", "connect", "start"], "\(events.map(\.action))")
        #expect(events.allSatisfy { $0.time.timeIntervalSince1970 > 1_700_000_000 })
        #expect(events.map { $0.service ?? "-" } == ["worker_wrapper", "worker_wrapper", "-", "-", "worker_wrapper"], "network events name no service")
        #expect(DockerJSON.dieExitCodes(body) == [137])
        // A line without timeNano is an event (the live stream) but not a timed one.
        let untimed = Data(#"{"Action":"die","Actor":{"ID":"abc","Attributes":{"com.docker.compose.service":"app"}}}"#.utf8)
        #expect(DockerJSON.event(untimed)?.service == "app" && DockerJSON.timedEvents(untimed).isEmpty)
        #expect(DockerJSON.event(Data("not json".utf8)) == nil)
    }
}
