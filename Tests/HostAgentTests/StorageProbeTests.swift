import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct StorageProbeTests {
    /// QFieldCloud's `.env` writes STORAGES as JSON in single quotes over several lines.
    static let env = """
        COMPOSE_PROJECT_NAME=qfieldcloud
        STORAGES='{
            "default": {
                "BACKEND": "qfieldcloud.filestorage.backend.QfcS3Boto3Storage",
                "OPTIONS": {
                    "access_key": "rustfsadmin",
                    "secret_key": "rustfsadmin-secret",
                    "bucket_name": "qfieldcloud-local",
                    "region_name": "",
                    "endpoint_url": "http://minio:9000"
                },
                "QFC_IS_LEGACY": false
            }
        }'
        QFIELDCLOUD_HOST=localhost # the public name
        """

    @Test func aMultiLineQuotedValueIsReadWholeAndItsStoragesFound() {
        let values = ComposeProject.parseEnvironment(Self.env)
        #expect(values["QFIELDCLOUD_HOST"] == "localhost")
        #expect(values["STORAGES"]?.contains("\"endpoint_url\": \"http://minio:9000\"") == true)
        #expect(StorageProbe.targets(values) == [.init(storage: "default", endpoint: "http://minio:9000", bucket: "qfieldcloud-local")])
        #expect(StorageProbe.targets(["STORAGE_ENDPOINT_URL": "http://172.17.0.1:8009", "STORAGE_BUCKET_NAME": "qfc"])
            == [.init(storage: "default", endpoint: "http://172.17.0.1:8009", bucket: "qfc")], "the older variables")
        #expect(StorageProbe.targets([:]).isEmpty)
        #expect(ComposeProject.parseEnvironment("A=\"x\" # note\nB=2\n") == ["A": "x", "B": "2"], "a quote closed on its line ends the value")
    }

    @Test func whatEachAnswerMeans() {
        let target = StorageProbe.Target(storage: "default", endpoint: "http://minio:9000", bucket: "qfc")
        #expect(StorageProbe.finding(for: target, answer: .status(200), from: "x") == nil)
        #expect(StorageProbe.finding(for: target, answer: .status(403), from: "x") == nil, "a bucket that wants credentials exists")
        #expect(StorageProbe.finding(for: target, answer: .status(404), from: "x")?.message.contains("createbuckets") == true)
        #expect(StorageProbe.finding(for: target, answer: .status(503), from: "x")?.code == "storage.unreachable")
        let refused = StorageProbe.finding(for: target, answer: .failed("Connection refused"), from: "the app container")
        #expect(refused?.evidence["error"] == "Connection refused" && refused?.severity == .critical)
        #expect(StorageProbe.finding(for: target, answer: .couldNotLook("no wget"), from: "x") == nil)
    }

    @Test func busyboxWgetAndPythonAnswersAreRead() {
        func outcome(_ status: Int32, out: String = "", err: String = "") -> ProcessOutcome { ProcessOutcome(status: status, stdout: out, stderr: err, timedOut: false) }
        #expect(StorageProbe.parseWget(outcome(0, err: "Connecting to minio:9000 (172.18.0.4:9000)\nremote file exists\n")) == .status(200))
        #expect(StorageProbe.parseWget(outcome(8, err: "HTTP request sent, awaiting response... 403 Forbidden\n")) == .status(403), "GNU wget")
        #expect(StorageProbe.parseWget(outcome(1, err: "wget: server returned error: HTTP/1.1 404 Not Found\n")) == .status(404))
        #expect(StorageProbe.parseWget(outcome(1, err: "wget: can't connect to remote host (172.18.0.5): Connection refused\n"))
            == .failed("can't connect to remote host (172.18.0.5): Connection refused"))
        #expect(StorageProbe.parseWget(outcome(1, err: "wget: bad address 'minio'\n")) == .failed("bad address 'minio'"))
        #expect(StorageProbe.parsePython(outcome(0, out: "403\n")) == .status(403))
        #expect(StorageProbe.parsePython(outcome(2, out: "error <urlopen error [Errno 111] Connection refused>\n")) == .failed("<urlopen error [Errno 111] Connection refused>"))
    }

    func install(_ engine: FakeDockerEngine) throws -> (ComposeProject, String) {
        let directory = NSTemporaryDirectory() + "fm-storage-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.env.write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        return (ComposeProject(project: "qfieldcloud", directory: directory, dockerSocket: "/nonexistent", runner: FakeRunner()), directory)
    }

    @Test func theStorageIsReachedFromInsideTheAppContainerAndItsLogRead() async throws {
        let engine = FakeDockerEngine()
        engine.add("app")
        engine.add("minio")
        let (compose, directory) = try install(engine)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let probe = StorageProbe(compose: compose, engine: engine, publicURL: nil)

        engine.execAnswer("python3", ProcessOutcome(status: 0, stdout: "403\n", stderr: "", timedOut: false))
        let fine = await probe.collect()
        #expect(fine.findings.isEmpty && fine.error == nil)
        let exec = try #require(engine.execs.first)
        #expect(exec.id == "app-id-0", "from inside the app container")
        #expect(exec.command.first == "python3" && exec.command.last == "http://minio:9000/qfieldcloud-local", "the URL is an argument")
        #expect(!exec.command.joined().contains("rustfsadmin-secret"), "no credential leaves .env")

        // No python3 in the image: busybox wget, which cannot connect.
        engine.execAnswer("python3", ProcessOutcome(status: 127, stdout: "", stderr: "exec: \"python3\": executable file not found", timedOut: false))
        engine.execAnswer("wget", ProcessOutcome(status: 1, stdout: "", stderr: "wget: can't connect to remote host (172.18.0.5): Connection refused\n", timedOut: false))
        let down = await probe.collect()
        #expect(down.findings.map(\.code) == ["storage.unreachable"])
        #expect(down.findings.first?.evidence["from"]?.contains("app container") == true)

        // A tool that crashes (busybox wget with -S) says nothing about the storage.
        engine.execAnswer("wget", ProcessOutcome(status: 139, stdout: "", stderr: "", timedOut: false))
        let crashed = await probe.collect()
        #expect(crashed.findings.isEmpty)
        #expect(crashed.error?.contains("signal 11") == true)
        #expect(engine.execs.last?.command == ["wget", "--spider", "http://minio:9000/qfieldcloud-local"])

        // Neither tool: the probe could not look, and says so instead of guessing.
        engine.execAnswer("wget", ProcessOutcome(status: 127, stdout: "", stderr: "", timedOut: false))
        let blind = await probe.collect()
        #expect(blind.findings.isEmpty)
        #expect(blind.error?.contains("neither python3 nor wget") == true)

        // A full disk in the storage's own log.
        engine.execAnswer("python3", ProcessOutcome(status: 0, stdout: "200\n", stderr: "", timedOut: false))
        engine.logsText = "API: PutObject(bucket=qfc)\nError: Storage reached its minimum free drive threshold (XMinioStorageFull)\n"
        let full = await probe.collect()
        #expect(full.findings.map(\.subject) == ["minio"])
        #expect(full.findings.first?.message.contains("disk is full") == true)
    }
}
