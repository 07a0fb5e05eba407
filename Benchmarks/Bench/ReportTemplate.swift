import Foundation
import Shared

/// The `POST /v1/health` body of one simulated agent: a report as large and as shaped as a
/// real agent's (host facts, three disks, six probe summaries, one finding, journal head),
/// encoded once by `WireCodec` and then re-stamped per request with a fresh id, sequence
/// and time.
///
/// Re-encoding the whole report with JSONEncoder for every request would cost the client
/// tens of microseconds of the two cores it shares with the server under test; splicing
/// three values into pre-encoded bytes costs next to nothing and sends the same bytes the
/// encoder would.
struct ReportTemplate: Sendable {
    let agent: String
    /// Byte runs between the stamped values; `slots[i]` goes between `pieces[i]` and `pieces[i + 1]`.
    private let pieces: [Data]
    private let slots: [Slot]

    enum Slot: Sendable { case createdAt, id, sequence }

    private static let idMarker = "00000000-be4c-4000-8000-1d0000000000"
    private static let sequenceMarker: Int64 = 987_654_321_012
    private static let dateMarker = Date(timeIntervalSince1970: 946_684_800.123)  // 2000-01-01T00:00:00.123Z

    init(agent: String, index: Int) throws {
        self.agent = agent
        let report = Self.realisticReport(agent: agent, index: index)
        let encoded = try WireCodec.encode(HealthBatch(reports: [report]))
        let markers: [(Slot, Data)] = [
            (.createdAt, Data("\"createdAt\":\"\(WireDate.format(Self.dateMarker))\"".utf8)),
            (.id, Data("\"id\":\"\(Self.idMarker)\"".utf8)),
            (.sequence, Data("\"sequence\":\(Self.sequenceMarker)".utf8)),
        ]
        var found: [(slot: Slot, range: Range<Data.Index>)] = []
        for (slot, marker) in markers {
            guard let range = encoded.range(of: marker),
                  encoded.range(of: marker, in: range.upperBound..<encoded.endIndex) == nil
            else {
                throw BenchError("report template: the marker for \(slot) is not exactly once in the encoded report; WireCodec's layout changed")
            }
            found.append((slot, range))
        }
        found.sort { $0.range.lowerBound < $1.range.lowerBound }
        var pieces: [Data] = []
        var cursor = encoded.startIndex
        for (slot, range) in found {
            // Keep the key and its quotes in the piece; only the value is stamped.
            let key = Data(Self.keyPrefix(slot).utf8)
            pieces.append(encoded[cursor..<range.lowerBound] + key)
            cursor = range.upperBound
        }
        pieces.append(encoded[cursor..<encoded.endIndex])
        self.pieces = pieces
        self.slots = found.map(\.slot)
    }

    private static func keyPrefix(_ slot: Slot) -> String {
        switch slot {
        case .createdAt: return "\"createdAt\":"
        case .id: return "\"id\":"
        case .sequence: return "\"sequence\":"
        }
    }

    /// The body for one report. `createdAt` is passed pre-formatted (RFC 3339) because
    /// formatting dates is the expensive part and callers cache it.
    func body(id: String, sequence: Int64, createdAt: String) -> Data {
        var body = Data()
        body.reserveCapacity(pieces.reduce(0) { $0 + $1.count } + 64)
        for (index, piece) in pieces.enumerated() {
            body.append(piece)
            guard index < slots.count else { break }
            switch slots[index] {
            case .createdAt: body.append(contentsOf: Array("\"\(createdAt)\"".utf8))
            case .id: body.append(contentsOf: Array("\"\(id)\"".utf8))
            case .sequence: body.append(contentsOf: Array(String(sequence).utf8))
            }
        }
        return body
    }

    /// Decodes a stamped body the way the coordinator does and checks the stamps landed:
    /// run once per template before any load is sent.
    func selfCheck() throws {
        let id = UUID().uuidString.lowercased()
        let now = Date()
        let stamped = body(id: id, sequence: 42, createdAt: WireDate.format(now))
        let batch: HealthBatch
        do {
            batch = try WireCodec.decode(HealthBatch.self, from: stamped)
        } catch {
            throw BenchError("report template for \(agent) does not decode as a HealthBatch: \(error)")
        }
        guard batch.reports.count == 1, let report = batch.reports.first,
              report.id == id, report.sequence == 42, report.agent == agent,
              abs(report.createdAt.timeIntervalSince(now)) < 0.002
        else {
            throw BenchError("report template for \(agent): the stamped id, sequence or time did not survive decoding")
        }
    }

    var sizeInBytes: Int { body(id: Self.idMarker, sequence: 1, createdAt: WireDate.format(Self.dateMarker)).count }

    /// What a QFieldCloud host's agent reports: numbers of a 8 GiB / 4-core VPS with a system
    /// disk, a docker disk and a data disk, the probes the agent runs, and one warning.
    static func realisticReport(agent: String, index: Int) -> HealthReport {
        let gib: UInt64 = 1 << 30
        let spread = UInt64(index % 17)
        return HealthReport(
            id: idMarker, sequence: sequenceMarker, agent: agent, createdAt: dateMarker,
            host: HostFacts(
                hostname: "qfc-\(agent).fieldmedic.example.org", uptimeSeconds: 1_728_343.27 + Double(index),
                load1: 0.42, load5: 0.61, load15: 0.58,
                memory: MemoryInfo(totalBytes: 8 * gib, availableBytes: 3 * gib + spread * 1_048_576,
                                   swapTotalBytes: 2 * gib, swapFreeBytes: 2 * gib - 134_217_728)),
            disks: [
                DiskUsage(mount: "/", totalBytes: 40 * gib, freeBytes: 21 * gib + spread, availableBytes: 19 * gib + spread,
                          totalInodes: 2_621_440, freeInodes: 2_104_533),
                DiskUsage(mount: "/var/lib/docker", totalBytes: 160 * gib, freeBytes: 22 * gib, availableBytes: 14 * gib,
                          totalInodes: 10_485_760, freeInodes: 8_811_202),
                DiskUsage(mount: "/srv/qfieldcloud", totalBytes: 500 * gib, freeBytes: 311 * gib, availableBytes: 286 * gib,
                          totalInodes: 32_768_000, freeInodes: 31_002_118),
            ],
            probes: [
                ProbeSummary(name: "host", durationMs: 0.412),
                ProbeSummary(name: "disk", durationMs: 0.096),
                ProbeSummary(name: "docker", durationMs: 38.7),
                ProbeSummary(name: "queue", durationMs: 211.5),
                ProbeSummary(name: "app_status", durationMs: 57.3),
                ProbeSummary(name: "tls", durationMs: 12.9),
            ],
            findings: [
                Finding(code: "disk.high", severity: .warning, subject: "/var/lib/docker",
                        message: "/var/lib/docker is 91% full (threshold 85%), 14.0 GiB available",
                        evidence: ["used_percent": "91.0", "available_bytes": String(14 * gib), "threshold_percent": "85"]),
            ],
            journalHead: ChainHead(count: 17, hash: "9f2c6b1e04d7a3c58e1b2f6093d4c7a1e5b80f3d2c6a9e7b1f4d8c0a3e6b9d21"))
    }
}
