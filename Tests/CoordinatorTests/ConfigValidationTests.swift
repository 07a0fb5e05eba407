import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// One validation path: `check-config` and `serve` load the config and its secrets through
/// the same functions, so what one refuses the other refuses, with bounds on every duration.
@Suite struct ConfigValidationTests {
    final class Directory {
        let path = NSTemporaryDirectory() + "fm-cfgv-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func config(_ body: String) throws -> String {
            let file = path + "/coordinator.toml"
            try "data_dir = \"\(path)\"\n\(body)".write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    @Test func aHugeCertificateLifetimeIsRefused() throws {
        let d = try Directory()
        let file = try d.config("[agents]\ncert_lifetime = \"100000000d\"\n")
        #expect(throws: ConfigError.self) { try CoordinatorConfig.load(path: file) }
        do { _ = try CoordinatorConfig.load(path: file) } catch { #expect(error.description.contains("at most \"825d\"")) }
    }

    @Test func aSigningInProxyNeedsBothItsHeaderAndItsAddresses() throws {
        let d = try Directory()
        let listen = "[listen]\nweb = \"127.0.0.1:8081\"\n[web]\n"
        func error(_ body: String) -> String? {
            do { _ = try CoordinatorConfig.load(path: try d.config(listen + body)); return nil } catch { return "\(error)" }
        }
        #expect(error("proxy_user_header = \"X-Forwarded-User\"\n")?.contains("needs web.trusted_proxies") == true)
        #expect(error("trusted_proxies = [\"127.0.0.1\"]\n")?.contains("needs web.proxy_user_header") == true)
        #expect(error("proxy_user_header = \"X-Forwarded-User\"\ntrusted_proxies = [\"proxy.example.org\"]\n")?.contains("not an IP address") == true)
        #expect(error("proxy_user_header = \"X Forwarded\"\ntrusted_proxies = [\"127.0.0.1\"]\n")?.contains("header name") == true)
        #expect(error("proxy_user_header = \"X-Forwarded-User\"\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n") == nil)
        let config = try CoordinatorConfig.load(path: try d.config(listen + "proxy_user_header = \"X-Forwarded-User\"\ntrusted_proxies = [\"::1\"]\n"))
        #expect(config.web?.proxyUserHeader == "X-Forwarded-User" && config.web?.trustedProxies == ["::1"])
        #expect(config.web?.liveRefresh == 10, "the default")
        #expect(error("live_refresh = \"500ms\"\n") != nil && error("live_refresh = \"10m\"\n") != nil, "1s to 5m")
        #expect(try CoordinatorConfig.load(path: try d.config(listen + "live_refresh = \"2s\"\n")).web?.liveRefresh == 2)
    }

    @Test func everyDurationHasAnUpperBound() throws {
        let d = try Directory()
        for key in ["agents.token_lifetime", "agents.offline_after", "limits.max_long_poll", "guardrails.approval_timeout", "predict.hold"] {
            let parts = key.split(separator: ".")
            let file = try d.config("[\(parts[0])]\n\(parts[1]) = \"99999999d\"\n")
            #expect(throws: ConfigError.self, "\(key)") { try CoordinatorConfig.load(path: file) }
        }
    }

    @Test func anEmptyWebhookSecretIsRefusedByTheCheckServeAndCheckConfigShare() throws {
        let d = try Directory()
        try SecretFile.write("operator-token\n", to: d.path + "/operator.token")
        try SecretFile.write("\n", to: d.path + "/hook.secret")
        let file = try d.config("""
            [listen]
            webhook = "127.0.0.1:8091"
            [github]
            repo = "acme/ops"
            webhook_secret_file = "\(d.path)/hook.secret"
            """)
        let config = try CoordinatorConfig.load(path: file)
        #expect(throws: OperationalError.self) { try CoordinatorSecrets.load(config) }
        try SecretFile.write("s3cret\n", to: d.path + "/hook.secret")
        #expect(try CoordinatorSecrets.load(config).webhookSecret?.revealed == "s3cret")
    }

    @Test func anOperatorAPIOffLoopbackIsSaidOutLoud() throws {
        let d = try Directory()
        #expect(try CoordinatorConfig.load(path: try d.config("")).warnings.isEmpty)
        let open = try CoordinatorConfig.load(path: try d.config("[listen]\noperator = \"0.0.0.0:8080\"\n"))
        #expect(open.warnings.count == 1)
        #expect(open.warnings[0].contains("listen.operator"))
    }

    @Test func theEnrollCommandUsesTheAddressAgentsUse() throws {
        let d = try Directory()
        let derived = try CoordinatorConfig.load(path: try d.config(""))
        #expect(derived.enrollURL(hostName: "ops.example.org") == "https://ops.example.org:8443")
        let configured = try CoordinatorConfig.load(path: try d.config("[agents]\npublic_url = \"https://fm.example.org:443/\"\n"))
        #expect(configured.enrollURL(hostName: "ignored") == "https://fm.example.org:443")
        #expect(throws: ConfigError.self) { try CoordinatorConfig.load(path: try d.config("[agents]\npublic_url = \"http://fm.example.org\"\n")) }
    }

    @Test func namesInOperatorPathsAreCheckedAndEscaped() throws {
        #expect(throws: UsageError.self) { try OperatorPath.agent("x/../vps-2", "/revoke") }
        #expect(throws: UsageError.self) { try OperatorPath.agent("..") }
        #expect(try OperatorPath.agent("vps-1.example", "/revoke") == "/operator/agents/vps-1.example/revoke")
        #expect(OperatorPath.segment("../a") == "..%2Fa")
        #expect(OperatorPath.segment("..") == "%2E%2E")
        #expect(OperatorPath.segment("a b?#") == "a%20b%3F%23")
    }
}
