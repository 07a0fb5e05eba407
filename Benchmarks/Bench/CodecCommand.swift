import ArgumentParser
import Foundation
import Shared
import X509

/// `fieldmedic-bench codec`: single-thread cost of the per-report steps the coordinator does
/// besides TLS and SQLite, to put microseconds on a profile's percentages.
struct CodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Time the coordinator's per-report CPU steps (JSON decode/encode, certificate parse) on one thread.")

    @Option(help: "Repetitions of each step.")
    var iterations: Int = 20_000

    @Option(help: "An agent certificate (PEM) to parse, e.g. one written by `enroll`; without it that step is skipped.")
    var certificate: String?

    func validate() throws {
        guard iterations >= 100 else { throw ValidationError("--iterations must be at least 100") }
    }

    func run() throws {
        let template = try ReportTemplate(agent: "bench-001", index: 0)
        try template.selfCheck()
        let body = template.body(id: UUID().uuidString.lowercased(), sequence: 1, createdAt: WireDate.format(Date()))
        let report = try WireCodec.decode(HealthBatch.self, from: body).reports[0]
        print("per-report steps on one thread, \(iterations) iterations each, body \(body.count) bytes (CPU time of this thread):")

        var steps: [(String, () throws -> Void)] = [
            ("WireCodec.decode(HealthBatch) — the request body (AgentAPI)", { _ = try WireCodec.decode(HealthBatch.self, from: body) }),
            ("WireCodec.encoder().encode(HealthReport) — stored copy (storeReports)", { _ = try WireCodec.encoder().encode(report) }),
            ("WireCodec.encode(HealthReceipt) — the answer (JSONResponse)", { _ = try WireCodec.encode(HealthReceipt(accepted: 1, duplicates: 0)) }),
            ("WireDate.format — 2 per report in storeReports", { _ = WireDate.format(Date()) }),
        ]
        if let certificate {
            let der = try PEMFile.der(try PEMFile.readCertificate(certificate))
            steps.append(("Certificate(derEncoded:) + agentName + serialHex (authenticate)", {
                let parsed = try Certificate(derEncoded: der)
                _ = parsed.agentName
                _ = parsed.serialHex
            }))
        }
        var total = 0.0
        var machineLines: [String] = []
        for (name, step) in steps {
            for _ in 0..<min(iterations / 10, 1_000) { try step() }  // warm caches and lazy metadata
            let started = Self.threadCPUNanoseconds()
            for _ in 0..<iterations { try step() }
            let microseconds = Double(Self.threadCPUNanoseconds() - started) / 1_000 / Double(iterations)
            total += microseconds
            print("  \(Format.fixed(microseconds, 1).leftPadded(to: 7)) µs  \(name)")
            machineLines.append("BENCH-CODEC step=\(name.prefix { $0 != " " }) us=\(Format.fixed(microseconds, 1))")
        }
        print("  \(Format.fixed(total, 1).leftPadded(to: 7)) µs  in all")
        print(machineLines.joined(separator: "\n"))
    }
}

extension CodecCommand {
    /// CPU time of the calling thread: unlike wall time, it does not grow when other work
    /// on a busy machine preempts the loop.
    static func threadCPUNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
