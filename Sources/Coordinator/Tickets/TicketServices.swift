import Foundation
import Logging
import Shared

/// The ticket loop's parts, put together from `coordinator.toml`: GitHub when `[github]` is
/// there, the outbox otherwise.
struct TicketServices {
    let engine: TicketEngine
    let runner: TicketRunner
    let webhook: WebhookAPI?

    static func make(
        config: CoordinatorConfig, secrets: CoordinatorSecrets, store: SQLiteCoordinatorStore, fleet: FleetService, clock: any WallClock, logger: Logger
    ) throws -> TicketServices {
        let settings = config.tickets
        var api: (any GitHubAPI)?
        if let github = settings.github {
            api = GitHubClient(apiURL: github.apiURL, repository: github.repository, token: secrets.githubToken?.revealed)
        }
        var permission: (@Sendable (String) async throws -> String)?
        if let api {
            permission = { @Sendable login in try await Blocking.run { () throws -> String in try api.permission(of: login) } }
        }
        let engine = TicketEngine(store: store, fleet: fleet, config: settings, clock: clock, logger: logger, permission: permission)
        let sink: any TicketSink = api.map { GitHubSink(api: $0, logger: logger) } ?? OutboxSink(directory: config.paths.outbox, logger: logger)
        let publisher = TicketPublisher(sink: sink, engine: engine, mode: settings.mode, mentions: settings.github?.mentions ?? [], clock: clock, logger: logger)
        var intake: IssueIntake?
        var webhook: WebhookAPI?
        if let api, let github = settings.github {
            let issueIntake = IssueIntake(api: api, config: github, engine: engine, store: store, clock: clock, logger: logger)
            intake = issueIntake
            if let secret = secrets.webhookSecret {
                webhook = WebhookAPI(intake: issueIntake, verifier: WebhookVerifier(secret: secret.revealedBytes), repository: github.repository,
                                     store: store, clock: clock, logger: logger)
            }
        }
        logger.info("ticket loop ready", metadata: [
            "mode": "\(settings.mode.rawValue)", "sink": "\(sink.name)",
            "polling": "\(settings.github.map { $0.pollInterval > 0 ? DurationText.human($0.pollInterval) : "off" } ?? "off")",
            "webhook": "\(settings.webhookListen?.description ?? "off")"])
        return TicketServices(engine: engine, runner: TicketRunner(engine: engine, publisher: publisher, intake: intake, logger: logger), webhook: webhook)
    }
}
