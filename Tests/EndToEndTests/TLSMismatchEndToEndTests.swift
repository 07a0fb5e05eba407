import Crypto
import Foundation
import Testing
@testable import Coordinator
@testable import HostAgent
@testable import Shared

/// The testbed nginx's TLS side: `testbed/nginx/tls-master.py` on the host, serving
/// `conf/nginx/certs/localhost.pem` (what the nginx container's QFIELDCLOUD_TLS_CERT names
/// through its mount) until the container's `nginx -s reload` asks it to read the file again.
struct NginxTLSSide {
    let env: TestEnvironment
    let h: Harness
    let ca: CertificateAuthority
    let port: Int

    init(env: TestEnvironment, harness: Harness) throws {
        self.env = env
        h = harness
        ca = try CertificateAuthority.create()
        port = try Harness.freePort()
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: control, withIntermediateDirectories: true)
        for leftover in ["reload", "reloads"] { unlink(control + "/" + leftover) }
        try AtomicFile.write(Data(try PEMFile.pem(ca.certificate).utf8), to: caFile)
    }

    var certs: String { env.testbedDir + "/conf/nginx/certs" }
    var control: String { env.testbedDir + "/nginx/master" }
    var url: String { "https://127.0.0.1:\(port)/" }
    var caFile: String { h.root + "/ca.pem" }

    /// A certificate for localhost, valid for `days`, written where nginx's config names it.
    @discardableResult
    func install(days: Double, withIssuer: Bool = false, key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) throws -> CertificateFacts {
        let certificate = try ca.issueServerCertificate(names: ["127.0.0.1", "localhost"], key: key, validity: days * 86_400)
        var pem = try PEMFile.pem(certificate)
        if withIssuer { pem += try PEMFile.pem(ca.certificate) }
        try SecretFile.write(key.pemRepresentation + "\n", to: certs + "/localhost-key.pem")
        // certbot swaps the file under nginx; nginx keeps what it loaded.
        try AtomicFile.write(Data(pem.utf8), to: certs + "/localhost.pem")
        return try CertificateFacts(certificate)
    }

    func start() throws {
        try h.start("tls-master", "/usr/bin/env", [
            "python3", env.testbedDir + "/nginx/tls-master.py", String(port), certs + "/localhost.pem", certs + "/localhost-key.pem", control,
        ])
        try h.waitUntil("the TLS side of nginx serves", timeout: 20) { !ServedChain.fetch(url: url, caFile: caFile).certificates.isEmpty }
    }

    func stop() { try? h.stop("tls-master", signal: SIGKILL) }

    var reloadsTaken: Int { Int((try? String(contentsOfFile: control + "/reloads", encoding: .utf8)) ?? "0") ?? 0 }

    func onDisk(_ engine: DockerEngineClient) -> CertificateOnDisk {
        CertificateOnDisk(configuredPath: nil, engine: engine, project: env.project, service: "nginx")
    }
}

extension SharedTestbed {
/// A renewed certificate nginx never loaded (QFieldCloud #986) and a served chain shorter
/// than the file's (#956), against real TLS: the testbed nginx's TLS side
/// (testbed/nginx/tls-master.py) serves `conf/nginx/certs/localhost.pem`, the file the nginx
/// container's QFIELDCLOUD_TLS_CERT names through its mount, and reads it again only when the
/// container's `nginx -s reload` asks.
@Suite(.serialized) struct TLSMismatchEndToEndTests {
    let env: TestEnvironment
    let engine: DockerEngineClient
    let h: Harness
    let tls: NginxTLSSide

    var certs: String { tls.certs }
    var url: String { tls.url }
    var caFile: String { tls.caFile }
    var ca: CertificateAuthority { tls.ca }
    var reloadsTaken: Int { tls.reloadsTaken }

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
        h = try Harness()
        tls = try NginxTLSSide(env: env, harness: h)
    }

    @discardableResult
    func install(days: Double, withIssuer: Bool = false, key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) throws -> CertificateFacts {
        try tls.install(days: days, withIssuer: withIssuer, key: key)
    }

    func startMaster() throws { try tls.start() }

    func probe() -> TLSProbe {
        TLSProbe(url: url, warnDays: 14, caFile: caFile,
                 onDisk: tls.onDisk(engine))
    }

    func context() -> ActionContext {
        var policy = ActionPolicy()
        policy.settle = 2
        return ActionContext(
            agent: "testbed", engine: engine,
            compose: ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: SubprocessRunner()),
            queue: nil, policy: policy, stuckJobAfter: 20 * 60, commandID: "test-command",
            tls: TLSTarget(url: url, caFile: caFile, onDisk: tls.onDisk(engine)))
    }

    func nginxStart() throws -> String {
        let id = try #require(try env.containerIDs("nginx", all: false).first)
        return try env.inspect(id, "{{.State.StartedAt}} {{.RestartCount}}")
    }

    @Test func aRenewedCertificateNginxHasNotLoadedIsFoundAndAVerifiedReloadServesIt() async throws {
        let old = try install(days: 20)
        try startMaster()
        defer { tls.stop() }
        #expect(await probe().collect().findings.isEmpty, "nginx serves what is on disk")

        // certbot renews: the file changes, nginx still serves what it loaded.
        let renewed = try install(days: 90)
        let result = await probe().collect()
        #expect(result.error == nil, "\(result.error ?? "")")
        let finding = try #require(result.findings.first { $0.code == "tls.mismatch" }, "\(result.findings)")
        #expect(finding.subject == "nginx:certificate")
        #expect(finding.evidence["served_serial"] == old.serial && finding.evidence["disk_serial"] == renewed.serial)
        #expect(finding.evidence["served_sha256"] == old.sha256 && finding.evidence["disk_sha256"] == renewed.sha256)
        #expect(finding.evidence["served_not_after"] == WireDate.format(old.notAfter))
        #expect(finding.evidence["disk_not_after"] == WireDate.format(renewed.notAfter))
        #expect(finding.evidence["newer_on_disk"] == "true")
        // Found through the container: QFIELDCLOUD_TLS_CERT and its mount, not configured.
        #expect(finding.evidence["disk_path"] == certs + "/localhost.pem")
        #expect(finding.message.contains("nginx -s reload"))

        // The playbook answers with the reload, done without asking.
        let plan = Playbook.builtIn.plan(for: result.findings).plan
        let step = try #require(plan.steps.first)
        #expect(plan.steps.map(\.action) == ["reload_nginx"] && step.policy == .auto && step.params.isEmpty)

        // A dry run says what it would do and does nothing.
        let parameters = ActionParameters(values: step.params, action: step.action)
        let before = try nginxStart()
        let dry = try await ReloadNginxAction().run(parameters, dryRun: true, context())
        #expect(dry.plan.count == 3 && dry.plan[0].contains("nginx -t") && dry.plan[1].contains("nginx -s reload"), "\(dry.plan)")
        #expect(dry.before["served_serial"] == old.serial)
        #expect(dry.verified == nil)
        #expect(reloadsTaken == 0)
        #expect(ServedChain.fetch(url: url, caFile: caFile).certificates.first?.serial == old.serial)

        let done = try await ReloadNginxAction().run(parameters, dryRun: false, context())
        #expect(done.verified == true, "\(done)")
        #expect(done.after["served_serial"] == renewed.serial)
        #expect(reloadsTaken == 1)
        #expect(try nginxStart() == before, "the container was not restarted")
        #expect(!(await probe().collect().findings.contains { $0.code == "tls.mismatch" }))
    }

    @Test func aServedChainShorterThanTheFileIsFoundAndTheReloadServesTheWholeChain() async throws {
        let key = P256.Signing.PrivateKey()
        let leaf = try install(days: 60, key: key)
        try startMaster()
        defer { tls.stop() }
        // The same certificate, now with its issuer appended (cert.pem → fullchain.pem).
        let certificate = try PEMFile.readCertificate(certs + "/localhost.pem")
        try AtomicFile.write(Data((try PEMFile.pem(certificate) + PEMFile.pem(ca.certificate)).utf8), to: certs + "/localhost.pem")

        let finding = try #require(await probe().collect().findings.first { $0.code == "tls.mismatch" })
        #expect(finding.subject == "nginx:chain")
        #expect(finding.evidence["served_chain"] == "1" && finding.evidence["disk_chain"] == "2")
        #expect(finding.evidence["served_serial"] == leaf.serial && finding.evidence["disk_serial"] == leaf.serial)
        #expect(finding.evidence["missing_issuer"] == (try CertificateFacts(ca.certificate)).subject)
        #expect(TicketPriority.of(finding) == .p0)

        let done = try await ReloadNginxAction().run(ActionParameters(values: [:], action: "reload_nginx"), dryRun: false, context())
        #expect(done.verified == true && done.after["served_chain"] == "2", "\(done)")
        #expect(!(await probe().collect().findings.contains { $0.code == "tls.mismatch" }))
    }

    @Test func aConfigurationTestThatFailsStopsTheReloadAndNothingChanges() async throws {
        let old = try install(days: 20)
        try startMaster()
        defer { tls.stop() }
        try install(days: 90)
        // The renewed key is lost: nginx -t fails, so nginx must not be told to reload.
        try AtomicFile.write(Data("not a key\n".utf8), to: certs + "/localhost-key.pem")

        do {
            let outcome = try await ReloadNginxAction().run(ActionParameters(values: [:], action: "reload_nginx"), dryRun: false, context())
            Issue.record("the reload went on after a failed configuration test: \(outcome)")
        } catch {
            #expect(error.description.contains("nginx -t failed") && error.description.contains("cannot load certificate key"), "\(error)")
        }
        #expect(reloadsTaken == 0)
        #expect(ServedChain.fetch(url: url, caFile: caFile).certificates.first?.serial == old.serial)
    }

    @Test func aFileOlderThanWhatIsServedIsNeverReloaded() async throws {
        try install(days: 90)
        try startMaster()
        defer { tls.stop() }
        try install(days: 20)
        let finding = try #require(await probe().collect().findings.first { $0.code == "tls.mismatch" })
        #expect(finding.evidence["newer_on_disk"] == "false")
        #expect(finding.message.contains("Reloading now would serve the older file"))
        do {
            let outcome = try await ReloadNginxAction().run(ActionParameters(values: [:], action: "reload_nginx"), dryRun: true, context())
            Issue.record("an older file was planned for a reload: \(outcome)")
        } catch {
            #expect(error.description.contains("reloading would serve the older one"), "\(error)")
        }
        #expect(reloadsTaken == 0)
    }
}
}
