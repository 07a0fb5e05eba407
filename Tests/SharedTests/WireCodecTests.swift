import Foundation
import Testing
@testable import Shared

@Suite struct WireCodecTests {
    @Test func roundTripsAVersionedBody() throws {
        let report = HealthReport(id: "r1", sequence: 7, agent: "vps-1", createdAt: Date(timeIntervalSince1970: 1_790_000_000.5))
        let data = try WireCodec.encode(HealthBatch(reports: [report]))
        let decoded = try WireCodec.decode(HealthBatch.self, from: data)
        #expect(decoded.reports == [report])
        #expect(decoded.version == WireCodec.version)
    }

    @Test func rejectsAnUnknownVersionWithAClearError() throws {
        let data = Data(#"{"version": 99, "reports": []}"#.utf8)
        #expect(throws: WireError.unsupportedVersion(99)) { try WireCodec.decode(HealthBatch.self, from: data) }
        #expect(WireError.unsupportedVersion(99).description.contains("speaks version 1"))
    }

    @Test func rejectsMalformedJSON() {
        for text in ["{not json", "[]", #"{"reports": []}"#, ""] {
            #expect(throws: WireError.self) { try WireCodec.decode(HealthBatch.self, from: Data(text.utf8)) }
        }
    }

    @Test func namesTheMissingField() {
        do {
            _ = try WireCodec.decode(EnrollRequest.self, from: Data(#"{"version": 1, "token": "x", "name": "a"}"#.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("csrPEM"), "\(error)")
        }
    }

    @Test func datesKeepMilliseconds() {
        let date = Date(timeIntervalSince1970: 1_790_000_000.25)
        let text = WireDate.format(date)
        #expect(text == "2026-09-21T14:13:20.250Z")
        #expect(WireDate.parse(text) == date)
        #expect(WireDate.parse("2026-09-21T14:13:20Z") == Date(timeIntervalSince1970: 1_790_000_000))
        #expect(WireDate.parse("yesterday") == nil)
    }

    /// The hand-written reader of the stored shape gives what Foundation's ISO 8601 parser
    /// gives, to the bit, on generated times from 1583 to 9999 (leap days included), and
    /// leaves every other text (earlier years: Foundation's calendar is Julian there) to it.
    @Test func theFastDateReaderAgreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        let foundation: (String) -> Date? = {
            try? Date($0, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        }
        var samples: [Date] = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400), // 2000-02-29
                               Date(timeIntervalSince1970: -12_212_553_600), Date(timeIntervalSince1970: 253_402_300_799.999)] // 1583-01-01, 9999-12-31
        for _ in 0..<5_000 {
            let millis = Int64.random(in: -12_212_553_600_000...253_402_300_799_999, using: &generator)
            samples.append(Date(timeIntervalSince1970: Double(millis) / 1000))
        }
        for date in samples {
            let text = WireDate.format(date)
            let fast = WireDate.parseExact(text)
            #expect(fast != nil, "\(text)")
            #expect(fast == foundation(text), "\(text): \(String(describing: fast?.timeIntervalSince1970)) vs \(String(describing: foundation(text)?.timeIntervalSince1970))")
            let whole = String(text.dropLast(5)) + "Z"
            #expect(WireDate.parseExact(whole) == foundation(whole) && foundation(whole) != nil, "\(whole)")
        }
        #expect(WireDate.parseExact("1582-10-15T00:00:00Z") == nil && WireDate.parse("1582-10-15T00:00:00Z") != nil)
        for other in ["2026-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-09-21T24:00:00Z", "2026-09-21T14:13:60Z",
                      "2026-09-21T14:13:20.250+02:00", "2026-09-21 14:13:20Z", "2026-09-21T14:13:2a.250Z", "2026-09-21T14:13:20.25Z", "", "yesterday"] {
            #expect(WireDate.parseExact(other) == nil, "\(other)")
        }
        #expect(WireDate.parse("2026-09-21T16:13:20.250+02:00") == Date(timeIntervalSince1970: 1_790_000_000.25), "other zones: Foundation")
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [("90s", 90.0), ("5m", 300), ("1h", 3600), ("7d", 604_800), ("250ms", 0.25), ("1h30m", 5400), ("0.5s", 0.5)])
    func parses(text: String, seconds: Double) {
        #expect(DurationText.parse(text) == seconds)
    }

    @Test(arguments: ["", "10", "ten seconds", "5 m", "-1s", "1y"])
    func refuses(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func formatsShortest() {
        #expect(DurationText.format(3600) == "1h")
        #expect(DurationText.format(90) == "90s")
        #expect(DurationText.format(604_800) == "7d")
        #expect(DurationText.format(0.25) == "250ms")
        #expect(DurationText.human(1960) == "32m")
        #expect(DurationText.human(5 * 3600 + 180) == "5h 3m")
        #expect(DurationText.human(12 * 86_400 + 4 * 3600 + 59) == "12d 4h")
        #expect(DurationText.human(42) == "42s")
    }
}

@Suite struct SecurityTests {
    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals("", ""))
    }

    @Test func hexRoundTrip() {
        let bytes: [UInt8] = [0, 1, 0xab, 0xff]
        #expect(Hex.encode(bytes) == "0001abff")
        #expect(Hex.decode("0001ABff") == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test(arguments: [
        ("POSTGRES_PASSWORD=hunter2", "hunter2"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("token fmj1.X8jHL5uAU4KSMFwAUpzAEeFZnTrtq_7E7rCS9P0wRc0.5fcf", "X8jHL5uAU4KSMFwAUpzAEeFZnTrtq_7E7rCS9P0wRc0"),
        ("postgres://qfield:s3cr3t@db:5432/x", "s3cr3t"),
        (#"{"secret_key": "abc123def"}"#, "abc123def"),
        ("AWS_SECRET_ACCESS_KEY=AKIAxyz", "AKIAxyz"),
        ("uses ghp_abcdefghijklmnopqrstuvwxyz0123 for api", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
    ])
    func redactsSecrets(text: String, secret: String) {
        let redacted = Redactor.redact(text)
        #expect(!redacted.contains(secret), "\(redacted)")
        #expect(redacted.contains(Redactor.mask))
    }

    @Test func leavesOrdinaryTextAlone() {
        let text = "worker_wrapper restarted 3 times; disk / is 91% full"
        #expect(Redactor.redact(text) == text)
    }

    @Test func secretFilesAreWrittenPrivateAndRefusedWhenOpen() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secret"
        try SecretFile.write("s3cret\n", to: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try SecretFile.readString(path, what: "test secret") == "s3cret\n")
        chmod(path, 0o644)
        do {
            _ = try SecretFile.readString(path, what: "test secret")
            Issue.record("a world-readable secret must be refused")
        } catch {
            #expect("\(error)".contains("chmod 600"))
        }
    }

    @Test func atomicWriteReplacesWholeFiles() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/file"
        try AtomicFile.write(Data("one".utf8), to: path)
        try AtomicFile.write(Data("two".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["file"])
        #expect(throws: (any Error).self) { try AtomicFile.write(Data("x".utf8), to: dir.path + "/missing/dir/file") }
    }
}

/// A directory removed when the test ends.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "fieldmedic-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
