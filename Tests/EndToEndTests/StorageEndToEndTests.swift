import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// `storage.unreachable` for real: a storage endpoint inside the stack (a `minio` network alias
/// served by busybox httpd) reached from inside the testbed's app container, and a real S3
/// implementation (moto, on loopback) as the public URL a phone would use. Broken on purpose:
/// a missing bucket, the endpoint gone, the S3 server stopped.
extension SharedTestbed {
@Suite(.serialized) struct StorageEndToEndTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
    }

    /// moto's S3 server on a free loopback port; stopped by `stop`.
    final class Moto {
        let process = Process()
        let port: Int
        var url: String { "http://127.0.0.1:\(port)" }

        init(executable: String) throws {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw HarnessError("moto_server is missing at \(executable): run scripts/install-deps.sh (it makes the test venv), or set FIELDMEDIC_TEST_VENV")
            }
            port = try Harness.freePort()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// SIGKILL: the test process blocks SIGTERM in its threads and the child inherits the
        /// mask, so moto would never see a TERM.
        func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func request(_ method: String, _ url: String) -> Int? {
        try? CurlHTTPClient().perform(HTTPRequest(method: method, url: url, headers: [], timeout: 5, connectTimeout: 2)).status
    }

    @Test func theStorageIsCheckedAsTheAppAndAPhoneReachItAndEachBreakIsFound() async throws {
        let motoServer = ProcessInfo.processInfo.environment["FIELDMEDIC_TEST_MOTO_SERVER"] ?? "/var/cache/fieldmedic-test/venv/bin/moto_server"
        let moto = try Moto(executable: motoServer)
        defer { moto.stop() }
        try env.waitUntil("moto answers", timeout: 60) { request("GET", moto.url) != nil }
        #expect(request("PUT", moto.url + "/qfieldcloud-local") == 200, "the bucket is made in the real S3 server")

        // The endpoint QFieldCloud's .env names, inside the stack: http://minio:9000.
        let www = env.testbedDir + "/../storage-www"
        try FileManager.default.createDirectory(atPath: www + "/qfieldcloud-local", withIntermediateDirectories: true)
        try "bucket\n".write(toFile: www + "/qfieldcloud-local/index.html", atomically: true, encoding: .utf8)
        let name = "\(env.project)-storage-test"
        _ = try? env.docker(["rm", "-f", name], check: false)
        try env.docker(["run", "-d", "--name", name, "--network", "\(env.project)_default", "--network-alias", "minio",
                        "-v", "\(www):/www:ro", env.image, "httpd", "-f", "-p", "9000", "-h", "/www"])
        defer { _ = try? env.docker(["rm", "-f", name], check: false) }

        let envFile = env.testbedDir + "/.env"
        let original = try String(contentsOfFile: envFile, encoding: .utf8)
        defer { try? original.write(toFile: envFile, atomically: true, encoding: .utf8) }
        func storages(bucket: String) throws {
            try (original + """

                STORAGES='{
                    "default": {
                        "BACKEND": "qfieldcloud.filestorage.backend.QfcS3Boto3Storage",
                        "OPTIONS": {"access_key": "k", "secret_key": "s", "bucket_name": "\(bucket)", "region_name": "", "endpoint_url": "http://minio:9000"}
                    }
                }'

                """).write(toFile: envFile, atomically: true, encoding: .utf8)
        }
        let probe = StorageProbe(
            compose: ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: SubprocessRunner()),
            engine: engine, publicURL: moto.url)

        try storages(bucket: "qfieldcloud-local")
        try await env.waitUntilAsync("the storage answers from inside the app container", timeout: 30) {
            await probe.collect().findings.isEmpty
        }
        let fine = await probe.collect()
        #expect(fine.error == nil, "\(fine.error ?? "")")

        // A bucket createbuckets never made: 404 inside the stack and at the public URL.
        try storages(bucket: "never-created")
        let missing = await probe.collect().findings
        #expect(missing.count == 2 && missing.allSatisfy { $0.code == "storage.unreachable" && $0.message.contains("createbuckets") }, "\(missing)")
        #expect(Set(missing.compactMap { $0.evidence["from"] }).count == 2, "one as the app reaches it, one as a phone does")

        // The endpoint gone from the stack: the app container cannot reach it.
        try storages(bucket: "qfieldcloud-local")
        try env.docker(["rm", "-f", name])
        let gone = await probe.collect().findings
        #expect(gone.map(\.code) == ["storage.unreachable"], "\(gone)")
        #expect(gone.first?.evidence["from"]?.contains("app container") == true)
        #expect(gone.first?.evidence["error"] != nil)

        // The S3 server stopped: the public URL refuses.
        moto.stop()
        let refused = await probe.collect().findings
        #expect(refused.contains { $0.evidence["from"]?.contains("public URL") == true && $0.evidence["error"] != nil }, "\(refused)")
    }
}
}
