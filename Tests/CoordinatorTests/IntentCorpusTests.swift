import Foundation
import Testing
@testable import Coordinator

/// The labelled issue texts in Tests/fixtures/intent/corpus.json: real QField and QFieldCloud
/// issues plus hard cases (see the README next to it).
enum IntentCorpus {
    struct Entry: Decodable {
        var title: String
        var body: String
        var intent: TicketIntent
        var source: String
    }

    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/intent/corpus.json").path

    static func load() throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GitHubFixtures.FixtureMissing("\(path) is missing: the intent corpus is part of the repository; restore it from git")
        }
        return try JSONDecoder().decode([Entry].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// What the classifier made of each labelled intent, and the entries it got wrong.
    struct Confusion: CustomStringConvertible {
        var counts: [TicketIntent: [TicketIntent: Int]] = [:]
        var wrong: [(Entry, TicketIntent)] = []

        init(_ entries: [Entry]) {
            for entry in entries {
                let got = IntentClassifier.classify(title: entry.title, body: entry.body)
                counts[entry.intent, default: [:]][got, default: 0] += 1
                if got != entry.intent { wrong.append((entry, got)) }
            }
        }

        func count(labelled: TicketIntent, classified: TicketIntent) -> Int { counts[labelled]?[classified] ?? 0 }

        var description: String {
            let intents: [TicketIntent] = [.problem, .status, .checklist]
            let rows = intents.map { labelled in
                "\(labelled.rawValue) → " + intents.map { "\($0.rawValue) \(count(labelled: labelled, classified: $0))" }.joined(separator: ", ")
            }
            let misses = wrong.map { entry, got in "  \(entry.intent.rawValue) read as \(got.rawValue): \"\(entry.title)\" (\(entry.source))" }
            return (["confusion (labelled → classified):"] + rows + (misses.isEmpty ? [] : ["misclassified:"] + misses)).joined(separator: "\n")
        }
    }
}

@Suite struct IntentCorpusTests {
    @Test func aProblemReportIsNeverTakenForAStatusRequest() throws {
        let entries = try IntentCorpus.load()
        let confusion = IntentCorpus.Confusion(entries)
        let problems = entries.filter { $0.intent == .problem }.count
        #expect(problems > 0)
        #expect(confusion.count(labelled: .problem, classified: .problem) == problems, "\(confusion)")
        #expect(confusion.count(labelled: .problem, classified: .status) == 0, "\(confusion)")
        #expect(confusion.count(labelled: .problem, classified: .checklist) == 0, "\(confusion)")
    }

    @Test func aPlainStatusRequestIsRecognisedInEveryLanguage() throws {
        let entries = try IntentCorpus.load()
        let confusion = IntentCorpus.Confusion(entries)
        let statuses = entries.filter { $0.intent == .status }.count
        #expect(statuses > 0)
        #expect(confusion.count(labelled: .status, classified: .status) == statuses, "\(confusion)")
    }

    @Test func aStandingChecklistIsItsOwnIntent() throws {
        let entries = try IntentCorpus.load()
        let confusion = IntentCorpus.Confusion(entries)
        let checklists = entries.filter { $0.intent == .checklist }.count
        #expect(checklists > 0)
        #expect(confusion.count(labelled: .checklist, classified: .checklist) == checklists, "\(confusion)")
    }

    @Test func theCorpusIsMostlyRealIssuesWithNoAddresses() throws {
        let entries = try IntentCorpus.load()
        let real = entries.filter {
            $0.source.hasPrefix("https://github.com/opengisch/QFieldCloud/issues/") || $0.source.hasPrefix("https://github.com/opengisch/QField/issues/")
        }
        #expect(real.count >= 60, "\(real.count) real issues")
        #expect(entries.allSatisfy { $0.source == "hard case" || real.map(\.source).contains($0.source) }, "a source is a tracker URL or 'hard case'")
        #expect(Set(real.map(\.source)).count == real.count, "each real issue once")
        let address = try Regex(#"[\w.+-]+@[\w-]+\.[\w.]+"#)
        #expect(entries.allSatisfy { ($0.title + $0.body).firstMatch(of: address) == nil }, "no e-mail addresses in the corpus")
    }

    @Test func theReportsClosedAsHealthyInTheFieldAreProblems() {
        let field: [(String, String)] = [
            ("Can you check why my project is not syncing?", ""),
            ("please check, tablets show red sync icon", ""),
            ("Check the worker please", "Packages are not being generated since yesterday."),
            ("Status of the server?", "The web page shows Bad Gateway."),
            ("check qfieldcloud", "it keeps logging me out"),
            ("Issues with Disk Quota management", ""),
        ]
        for (title, body) in field {
            #expect(IntentClassifier.classify(title: title, body: body) == .problem, "\(title) / \(body)")
        }
    }

    @Test func wordsAreMatchedWholeNotInsideOtherWords() {
        #expect(IntentClassifier.classify(title: "Please check status before tomorrow's download session", body: "") == .status)
        #expect(IntentClassifier.classify(title: "Can you check the status and post it as markdown?", body: "") == .status)
        #expect(IntentClassifier.classify(title: "check", body: "the server is down") == .problem)
        #expect(IntentClassifier.classify(title: "health check", body: "two containers are unhealthy") == .problem, "unhealthy is not health")
    }

    @Test func aNegatedSymptomNounIsNotASymptomButOtherNegationsAre() {
        #expect(IntentClassifier.classify(title: "health check please", body: "No errors so far, just making sure.") == .status)
        #expect(IntentClassifier.classify(title: "Bitte Status prüfen", body: "Keine Fehler bisher.") == .status)
        #expect(IntentClassifier.classify(title: "health check please", body: "No errors shown, but the sync never finishes.") == .problem)
        #expect(IntentClassifier.classify(title: "status", body: "photos do not appear") == .problem)
        #expect(IntentClassifier.classify(title: "status", body: "the project no longer updates") == .problem)
    }

    @Test func issueAloneIsNotASymptomButIssuesWithSomethingAre() {
        #expect(IntentClassifier.classify(title: "Follow-up issue: please check the server health", body: "") == .status)
        #expect(IntentClassifier.classify(title: "Status", body: "Issues with the login page after the upgrade.") == .problem)
    }

    @Test func aChecklistThatDescribesASymptomIsAProblem() {
        #expect(IntentClassifier.classify(title: "Weekly check", body: "") == .checklist)
        #expect(IntentClassifier.classify(title: "Weekly check", body: "Sync failing on two tablets.") == .problem)
        #expect(IntentClassifier.classify(title: "Monthly maintenance", body: "Since the last maintenance the worker keeps restarting.") == .problem)
    }

    @Test func accountQuotaIsRecognisedInTheLanguagesUsersWrite() {
        for (title, body) in [
            ("Issues with Disk Quota management", ""), ("Sync fails", "I ran out of storage"), ("We need more space", ""),
            ("Speicher voll", ""), ("Plus d'espace sur mon compte", ""), ("¿Cuánto espacio tiene una cuenta gratuita?", ""),
            ("almacenamiento lleno", ""), ("spazio esaurito", ""), ("armazenamento cheio", ""),
            ("QField upload to Cloud", "{\"code\":\"over_quota\",\"message\":\"Quota error\"}"),
        ] {
            #expect(IntentClassifier.mentionsAccountQuota(title: title, body: body), "\(title) / \(body)")
        }
    }

    @Test func aHostDiskOrNoStorageWordIsNotTheAccountQuota() {
        for (title, body) in [
            ("Server disk full", "No space left on device"), ("espace disque du serveur plein", ""),
            ("Status of the server?", ""), ("Workspace broken", ""), ("Object storage errors", "minio returns 500"),
        ] {
            #expect(!IntentClassifier.mentionsAccountQuota(title: title, body: body), "\(title) / \(body)")
        }
    }
}
