import Foundation

struct SilenceRequest: Codable, Sendable {
    var host: String
    var finding: String?
    var seconds: Double
    var reason: String?
}

struct SilencesResponse: Codable, Sendable {
    var silences: [SilenceRecord]
}

struct StatsResponse: Codable, Sendable {
    var tickets: TicketStats
    var samples: SampleStorage
}
