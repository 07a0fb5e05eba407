// The same two calls from a Swift program that links only FoundationEssentials (JSON and
// Date, as a health report needs), built with -static-stdlib like the packaged agent.
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

struct Report: Codable { var sequence: Int; var createdAt: Date; var findings: [String] }

let arguments = CommandLine.arguments
guard arguments.count >= 7 else { exit(2) }
let body = try JSONEncoder().encode(Report(sequence: 1, createdAt: Date(), findings: ["service.down"]))
let decoded = try JSONDecoder().decode(Report.self, from: body)
let status = fm_requests(arguments[2], arguments[3], arguments[4], arguments[5], arguments[6])
guard status == 200, decoded.sequence == 1 else {
    print("\(arguments[1]): the mTLS request gave \(status)")
    exit(1)
}
fm_print_rss(arguments[1])
