import Foundation
import Testing
@testable import Shared

@Suite struct ConfigReaderTests {
    let text = """
        # comment
        name = "vps-1"

        [coordinator]
        url = "https://ops.example.org:8443"   # trailing comment

        [report]
        interval = "90s"
        count = 3
        enabled = true
        mounts = ["/", "/var/lib/docker"]

        [playbook."disk.high"]
        policy = "auto"
        """

    @Test func readsTypedValues() throws {
        let reader = try ConfigReader(text: text, path: "agent.toml")
        #expect(try reader.string("name") == "vps-1")
        #expect(try reader.string("coordinator.url") == "https://ops.example.org:8443")
        #expect(try reader.duration("report.interval", default: 60) == 90)
        #expect(try reader.int("report.count", default: 1) == 3)
        #expect(try reader.bool("report.enabled", default: false) == true)
        #expect(try reader.stringArray("report.mounts", default: []) == ["/", "/var/lib/docker"])
        #expect(try reader.duration("report.missing", default: 60) == 60)
        #expect(reader.subtableNames("playbook") == ["disk.high"])
        #expect(try reader.string(path: ["playbook", "disk.high", "policy"]) == "auto")
        try reader.finish()
    }

    @Test func unknownKeyIsAnErrorWithItsLine() throws {
        let reader = try ConfigReader(text: text, path: "agent.toml")
        _ = try reader.string("name")
        _ = try reader.string("coordinator.url")
        _ = try reader.duration("report.interval", default: 60)
        do {
            try reader.finish()
            Issue.record("unknown keys must be refused")
        } catch {
            #expect(error.file == "agent.toml")
            #expect(error.line == 9, "\(error)")
            #expect(error.description.contains("unknown key \"report.count\""), "\(error)")
            #expect(error.description.contains("keys in [report] are: interval"), "\(error)")
        }
    }

    @Test func unknownSectionIsAnError() throws {
        let reader = try ConfigReader(text: "name = \"a\"\n[nope]\nx = 1\n", path: "a.toml")
        _ = try reader.string("name")
        #expect(throws: ConfigError(file: "a.toml", line: 2, message: "unknown key \"nope\"; top-level keys are: name")) { try reader.finish() }
    }

    @Test func wrongTypeSaysWhatToWrite() throws {
        let reader = try ConfigReader(text: "[report]\ninterval = 60\n", path: "agent.toml")
        do {
            _ = try reader.duration("report.interval", default: 60)
            Issue.record("a number is not a duration")
        } catch {
            #expect(error.description == "configuration error: agent.toml:2: report.interval must be a duration string such as \"90s\", \"5m\", \"1h\" or \"7d\"")
        }
    }

    @Test func syntaxErrorHasALine() {
        do {
            _ = try ConfigReader(text: "name = \"a\"\n\nurl = = 3\n", path: "bad.toml")
            Issue.record("bad TOML must be refused")
        } catch {
            #expect(error.line == 3, "\(error)")
            #expect(error.description.contains("not valid TOML"))
        }
    }

    @Test func rangesAreChecked() throws {
        let reader = try ConfigReader(text: "n = 0\nd = \"1s\"\n", path: "x.toml")
        #expect(throws: ConfigError.self) { try reader.int("n", default: 5, range: 1...10) }
        #expect(throws: ConfigError.self) { try reader.duration("d", default: 5, minimum: 60) }
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: ConfigError.self) { try ConfigReader(path: "/nonexistent/agent.toml") }
    }

    @Test func aTableHeaderWithoutAKeyIsAnErrorNotACrash() throws {
        // Inputs that make toml++ assert (found by scripts/fuzz.sh).
        for text in ["[#", "[=", "[ #", "[[#", "[.", "[,", "[é", "[\t#", "a = 1\n  [#", "[\n", "[\r\n", "[[\n"] {
            #expect(throws: ConfigError.self, "\(text.debugDescription)") { try ConfigReader(text: text, path: "x.toml") }
        }
        do { _ = try ConfigReader(text: "a = 1\n\n[ #", path: "x.toml") } catch { #expect(error.line == 3) }
        for text in ["[a]", "[ a ]", "[\"a b\"]", "['a']", "[[a]]", "[-a]", "[_]", "x = [1, 2]", "a = \"[#\""] {
            _ = try ConfigReader(text: text, path: "x.toml")
        }
    }
}
