import ArgumentParser
import Foundation
import Shared

/// `fieldmedic-coordinator notify status | test NAME`.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "The notification outbox ([[notify]] channels): what is pending, sent or failed; send a test message.",
        subcommands: [Status.self, Test.self])

    static func summary(_ config: NotifyConfig) -> String {
        guard !config.channels.isEmpty else { return "notify: no [[notify]] channels (events are stored, nobody is told)" }
        return "notify: " + config.channels.map { channel in
            "\(channel.name) (\(channel.kind.rawValue), \(channel.events == NotifyChannelConfig.defaultEvents ? "all events" : channel.events.map(\.rawValue).sorted().joined(separator: "+")), "
                + "\(channel.minPriority.rawValue) and above" + (channel.hosts.isEmpty ? "" : ", hosts " + channel.hosts.joined(separator: ",")) + ")"
        }.joined(separator: "; ")
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Counts of pending, sent and failed messages per channel, and the failed ones with their last error (secrets never shown).")
        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let config = try options.load()
            try SQLiteCoordinatorStore.checkInitialised(config.paths)
            let store = try SQLiteCoordinatorStore(path: config.paths.database, readonly: true)
            let status: OutboxStatus
            do {
                status = try await store.outboxStatus()
            } catch where "\(error)".contains("no such table") {
                // A database from before the outbox: `serve` migrates it (this command only reads).
                throw OperationalError("\(config.paths.database) has no notification outbox yet; start the coordinator once (fieldmedic-coordinator serve) so it upgrades the database")
            }
            if json {
                print(String(decoding: try WireCodec.encoder().encode(status), as: UTF8.self))
                return
            }
            print(NotifyCommand.summary(config.notify))
            if status.channels.isEmpty { print("no messages yet") }
            for counts in status.channels {
                let known = config.notify.channels.contains { $0.name == counts.channel } ? "" : " (no longer configured)"
                print("\(counts.channel)\(known): \(counts.pending) pending, \(counts.sent) sent, \(counts.failed) failed")
            }
            if status.unrouted > 0 { print("\(status.unrouted) event(s) not routed yet (is the coordinator running?)") }
            for failure in status.retrying {
                print("retrying #\(failure.id) \(failure.channel) \(failure.kind) \"\(failure.title)\": attempt \(failure.attempts), next at \(failure.at): \(Redactor.redact(failure.lastError))")
            }
            for failure in status.failed {
                print("failed #\(failure.id) \(failure.channel) \(failure.kind) \"\(failure.title)\" after \(failure.attempts) attempt(s) at \(failure.at): \(Redactor.redact(failure.lastError))")
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Send a test message through channel NAME now (not through the outbox) and say what failed.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The name of a [[notify]] block.") var name: String

        func run() async throws {
            let config = try options.load()
            guard let settings = config.notify.channels.first(where: { $0.name == name }) else {
                let known = config.notify.channels.map(\.name)
                throw UsageError("no [[notify]] block named \"\(name)\" in \(options.config)" + (known.isEmpty ? " (there are none)" : "; known: " + known.joined(separator: ", ")))
            }
            let channel = try NotificationChannels.make(settings)
            let message = NotificationMessage(events: [.test(channel: name, at: Date())])
            do throws(DeliveryError) {
                try channel.send(message)
            } catch {
                var hint = ""
                if error.retryAfter != nil { hint = " (rate limited: try again later)" } else if error.permanent { hint = " (check the channel's settings and secret file)" }
                throw OperationalError("\(name) (\(settings.kind.rawValue)): the test message was not delivered: \(error.message)\(hint)")
            }
            print("\(name) (\(settings.kind.rawValue)): test message delivered")
        }
    }
}
