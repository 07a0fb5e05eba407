// The Swift program of main.swift, but using two APIs that only full Foundation has
// (JSONSerialization, DateFormatter), as the agent does today: what that costs on its own.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 7 else { exit(2) }
let body = try JSONSerialization.data(withJSONObject: ["sequence": 1, "findings": ["service.down"]])
let formatter = DateFormatter()
formatter.locale = Locale(identifier: "en_US_POSIX")
formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
let parsed = formatter.date(from: "Nov 22 12:00:00 2026 GMT")
let status = fm_requests(arguments[2], arguments[3], arguments[4], arguments[5], arguments[6])
guard status == 200, !body.isEmpty, parsed != nil else {
    print("\(arguments[1]): the mTLS request gave \(status)")
    exit(1)
}
fm_print_rss(arguments[1])
