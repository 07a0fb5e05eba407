import Foundation
import Shared

/// The compiled-in catalog: the only things the agent will do. No entry takes a command line.
enum ActionCatalog {
    static let actions: [any Action] = [
        CollectLogsAction(), RestartServiceAction(), StartServiceAction(), RecreateServiceAction(), PruneDockerAction(), FailStuckJobsAction(),
        ReloadNginxAction(),
    ]

    static let names: Set<String> = Set(actions.map(\.name) + [ActionKind.diagnose.rawValue])

    static func action(named name: String) -> (any Action)? {
        actions.first { $0.name == name }
    }
}
