import Foundation
import Shared

/// One enrolled agent of the benchmark: its certificate files and the report it sends.
struct SimulatedAgent: Sendable {
    var identity: BenchIdentity
    var template: ReportTemplate
}

/// Drives `POST /v1/health` from worker threads, each owning a few simulated agents; every
/// agent has its own certificate and its own libcurl handle, so its own kept-alive TLS
/// connection. Requests that complete inside the measured window count.
struct LoadRun: Sendable {
    struct Plan: Sendable {
        var healthURL: String
        var caFile: String
        var agents: [SimulatedAgent]
        var threads: Int
        /// Total reports per second offered, spread evenly over the threads; nil sends as fast
        /// as answers come back (closed loop, one request in flight per thread).
        var targetRate: Double?
        var requestTimeout: TimeInterval
        /// First value of every agent's sequence in this run (later runs start higher).
        var sequenceBase: Int64
    }

    /// Absolute CLOCK_MONOTONIC instants of one run.
    struct Window: Sendable {
        var origin: UInt64
        var measureFrom: UInt64
        var measureUntil: UInt64

        init(warmup: Double, duration: Double, now: UInt64 = MonotonicTime.now()) {
            origin = now
            measureFrom = now + MonotonicTime.nanoseconds(warmup)
            measureUntil = measureFrom + MonotonicTime.nanoseconds(duration)
        }
    }

    /// What one worker saw. Merged after the run; no sharing while it runs.
    struct Tally: Sendable {
        var latenciesInWindow: [UInt64] = []
        var okTotal = 0
        var acceptedTotal: Int64 = 0
        var notAccepted = 0
        var statusCounts: [Int: Int] = [:]
        var transportErrors = 0
        var problems: [String] = []
        /// Paced runs only: requests that started more than 1 ms after their slot.
        var lateStarts = 0

        var failures: Int { statusCounts.values.reduce(0, +) + transportErrors + notAccepted }

        /// Keeps the first few distinct problems, each once however many agents hit it.
        mutating func note(_ problem: String, agent: String? = nil) {
            let text = problem.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            guard problems.count < 5, !problems.contains(where: { Self.withoutAgent($0) == Self.withoutAgent(text) }) else { return }
            problems.append(agent.map { "\(text)\(Self.agentMark)\($0))" } ?? text)
        }

        private static let agentMark = " (first from "
        private static func withoutAgent(_ problem: String) -> Substring {
            problem.range(of: agentMark).map { problem[..<$0.lowerBound] } ?? problem[...]
        }

        mutating func merge(_ other: Tally) {
            latenciesInWindow += other.latenciesInWindow
            okTotal += other.okTotal
            acceptedTotal += other.acceptedTotal
            notAccepted += other.notAccepted
            statusCounts.merge(other.statusCounts, uniquingKeysWith: +)
            transportErrors += other.transportErrors
            for problem in other.problems { note(problem) }  // already "… (first from NAME)"
            lateStarts += other.lateStarts
        }
    }

    let plan: Plan
    let window: Window

    /// Starts the workers and returns at once; `wait()` on the result collects their tallies.
    func start() -> RunningLoad {
        let running = RunningLoad()
        for thread in 0..<plan.threads {
            let mine = stride(from: thread, to: plan.agents.count, by: plan.threads).map { plan.agents[$0] }
            running.group.enter()
            let worker = Thread { [plan, window] in
                let tally = Self.work(plan: plan, window: window, thread: thread, agents: mine)
                running.tallies.withLock { $0.append(tally) }
                running.group.leave()
            }
            worker.name = "bench-worker-\(thread)"
            worker.start()
        }
        return running
    }

    private static func work(
        plan: Plan, window: Window, thread: Int, agents: [SimulatedAgent]
    ) -> Tally {
        var tally = Tally()
        let clients = agents.map { agent in
            CurlHTTPClient(tls: CurlTLSOptions(caFile: plan.caFile, certificateFile: agent.identity.certificateFile, keyFile: agent.identity.keyFile))
        }
        var sequences = [Int64](repeating: plan.sequenceBase, count: agents.count)
        var createdAtSecond = -1.0
        var createdAtText = ""
        tally.latenciesInWindow.reserveCapacity(1 << 16)

        // Paced runs: this thread's slots are `interval` apart, offset so threads interleave.
        let interval: UInt64? = plan.targetRate.map { MonotonicTime.nanoseconds(Double(plan.threads) / $0) }
        var nextSlot = window.origin + (interval.map { $0 * UInt64(thread) / UInt64(plan.threads) } ?? 0)
        var turn = 0
        var random = SystemRandomNumberGenerator()

        while true {
            if let interval {
                if MonotonicTime.now() < nextSlot { MonotonicTime.sleep(until: nextSlot) }
                // A slot past the window is not sent: the window is over for this thread.
                if nextSlot >= window.measureUntil { break }
            } else if MonotonicTime.now() >= window.measureUntil {
                break
            }
            let agentIndex = turn % agents.count
            turn += 1
            sequences[agentIndex] += 1

            // Agents stamp reports with the collection time; whole seconds are plenty here
            // and keep date formatting off the hot path.
            let wallSecond = Date().timeIntervalSince1970.rounded(.down)
            if wallSecond != createdAtSecond {
                createdAtSecond = wallSecond
                createdAtText = WireDate.format(Date(timeIntervalSince1970: wallSecond))
            }
            let body = agents[agentIndex].template.body(
                id: ReportID.random(using: &random), sequence: sequences[agentIndex], createdAt: createdAtText)
            let request = HTTPRequest(
                method: "POST", url: plan.healthURL,
                headers: [("Accept", "application/json"), ("Content-Type", "application/json")],
                body: body, timeout: plan.requestTimeout, connectTimeout: plan.requestTimeout)

            let sent = MonotonicTime.now()
            // Paced: latency counts from the slot, so a stalled server is not hidden by the
            // client waiting for it (coordinated omission).
            let startedAt: UInt64
            if let interval {
                startedAt = nextSlot
                if sent > nextSlot + 1_000_000 { tally.lateStarts += 1 }
                nextSlot += interval
            } else {
                startedAt = sent
            }
            let response: HTTPResponse
            do {
                response = try clients[agentIndex].perform(request)
            } catch {
                tally.transportErrors += 1
                tally.note("\(error)", agent: agents[agentIndex].identity.name)
                // A dead server must not turn this loop into a spin; the window bounds the rest.
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            let finished = MonotonicTime.now()

            guard response.status == 200 else {
                tally.statusCounts[response.status, default: 0] += 1
                tally.note("HTTP \(response.status): \(response.bodyText.prefix(300))", agent: agents[agentIndex].identity.name)
                continue
            }
            // The usual answer is byte-for-byte the canonical receipt for one new report;
            // anything else is decoded and judged.
            if response.body == ReportID.receiptForOneNewReport {
                tally.okTotal += 1
                tally.acceptedTotal += 1
                if finished >= window.measureFrom && finished < window.measureUntil {
                    tally.latenciesInWindow.append(finished - startedAt)
                }
                continue
            }
            do {
                let receipt = try WireCodec.decode(HealthReceipt.self, from: response.body)
                tally.okTotal += 1
                tally.acceptedTotal += Int64(receipt.accepted)
                if receipt.accepted != 1 {
                    tally.notAccepted += 1
                    tally.note("receipt says accepted \(receipt.accepted), duplicates \(receipt.duplicates) for one new report", agent: agents[agentIndex].identity.name)
                }
            } catch {
                tally.notAccepted += 1
                tally.note("HTTP 200 but the body is not a HealthReceipt: \(error)", agent: agents[agentIndex].identity.name)
                continue
            }
            if finished >= window.measureFrom && finished < window.measureUntil {
                tally.latenciesInWindow.append(finished - startedAt)
            }
        }
        return tally
    }
}

/// The workers of a started `LoadRun`.
final class RunningLoad: Sendable {
    let group = DispatchGroup()
    let tallies = LockedValue<[LoadRun.Tally]>([])

    func wait() -> LoadRun.Tally {
        group.wait()
        return tallies.value.reduce(into: LoadRun.Tally()) { $0.merge($1) }
    }
}

/// Report ids as the agent makes them (lower-case random UUIDs), without Foundation's `UUID()`,
/// which on Linux opens /dev/urandom for every id: a syscall pair per request on a client
/// that shares the cores with the server under test.
enum ReportID {
    static func random(using generator: inout SystemRandomNumberGenerator) -> String {
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0f) | 0x40  // version 4
            raw[8] = (raw[8] & 0x3f) | 0x80  // RFC 4122 variant
            let digits = Array("0123456789abcdef".utf8)
            var text = [UInt8]()
            text.reserveCapacity(36)
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0f)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// `WireCodec.encode(HealthReceipt(accepted: 1, duplicates: 0))`, computed once.
    static let receiptForOneNewReport: Data = (try? WireCodec.encode(HealthReceipt(accepted: 1, duplicates: 0))) ?? Data()
}
