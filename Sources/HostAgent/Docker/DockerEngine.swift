import Foundation
import Shared

/// The parts of the Docker Engine API the agent uses. `DockerEngineClient` speaks to the
/// real engine over its unix socket; tests of the logic use a fake.
///
/// ```swift
/// let engine: any DockerEngine = DockerEngineClient(socketPath: "/var/run/docker.sock")
/// let containers = try engine.containers(project: "qfieldcloud")
/// ```
protocol DockerEngine: Sendable {
    /// Every container (running or not) of a compose project.
    func containers(project: String) throws(DockerError) -> [DockerContainer]
    /// Every container on the engine, of any project: what prune must never break.
    func allContainers() throws(DockerError) -> [DockerContainer]
    func inspect(_ id: String) throws(DockerError) -> DockerContainerState
    func restart(_ id: String, stopTimeout: Int) throws(DockerError)
    func start(_ id: String) throws(DockerError)
    func logs(_ id: String, tail: Int) throws(DockerError) -> String
    func diskUsage() throws(DockerError) -> DockerDiskUsage
    func danglingImages() throws(DockerError) -> [DockerImage]
    func images() throws(DockerError) -> [DockerImage]
    func removeImage(_ id: String) throws(DockerError)
    func pruneBuildCache() throws(DockerError) -> UInt64
    func unusedNetworks() throws(DockerError) -> [DockerNetwork]
    func removeNetwork(_ id: String) throws(DockerError)
    /// Runs a command (an argument array) inside a running container with `input` on its
    /// stdin and `environment` ("NAME=value") added to the container's, as `docker exec -i`
    /// would. The engine cannot stop an exec: one past `timeout` is abandoned, not killed.
    func exec(_ id: String, command: [String], environment: [String], input: Data, timeout: TimeInterval) throws(DockerError) -> ProcessOutcome
    /// When the engine recorded an `oom` event for this container between `since` and
    /// `until` (its recent events, replayed; `until` not in the future).
    func oomEvents(_ id: String, since: Date, until: Date) throws(DockerError) -> [Date]
    /// Follows the event stream until `handler` returns false or `abort` is set.
    func followEvents(project: String, abort: AbortFlag, handler: @escaping (DockerEvent) -> Bool) throws(DockerError)
    /// Of the container's last `tail` stdout lines, those from `since` on (the engine's
    /// "seconds.nanoseconds", inclusive), each prefixed by its RFC 3339 timestamp, as
    /// `docker logs -t --since S --tail N` prints. The json-file driver finds the last lines
    /// by reading the file backwards; `since` alone makes it decode the whole log.
    func logs(_ id: String, since: String, tail: Int) throws(DockerError) -> String
    /// Every container (running or not) carrying this label (`key=value`), of any project:
    /// QFieldCloud's job containers (`app=<ENVIRONMENT>_worker`) are started outside compose.
    func containers(label: String) throws(DockerError) -> [DockerContainer]
    /// `docker image inspect NAME`; nil when the engine has no such image.
    func image(_ reference: String) throws(DockerError) -> DockerImageDetail?
    /// `docker network inspect NAME`; nil when the engine has no such network.
    func network(_ name: String) throws(DockerError) -> DockerNetwork?
    /// The `oom` events the engine recorded between `since` and `until` for containers with
    /// this label (`key=value`), oldest first: one call for a whole project.
    func oomEvents(label: String, since: Date, until: Date) throws(DockerError) -> [DockerEvent]
    /// The exit codes of this container's `die` events between `since` and `until`.
    func dieExitCodes(_ id: String, since: Date, until: Date) throws(DockerError) -> [Int]
}

extension DockerEngine {
    func exec(_ id: String, command: [String], input: Data, timeout: TimeInterval) throws(DockerError) -> ProcessOutcome {
        try exec(id, command: command, environment: [], input: input, timeout: timeout)
    }
}

enum DockerError: Error, CustomStringConvertible {
    case unreachable(socket: String, detail: String)
    case api(status: Int, message: String, path: String)
    case malformed(String)

    var description: String {
        switch self {
        case .unreachable(let socket, let detail): return "cannot reach the Docker engine at \(socket): \(detail)"
        case .api(let status, let message, let path): return "Docker engine answered \(status) to \(path): \(message)"
        case .malformed(let why): return "unexpected answer from the Docker engine: \(why)"
        }
    }
}

/// `GET /containers/json` entry.
struct DockerContainer: Sendable, Equatable {
    var id: String
    var name: String
    var image: String
    var imageID: String
    var state: String
    var labels: [String: String]

    var service: String? { labels["com.docker.compose.service"] }
    var project: String? { labels["com.docker.compose.project"] }
}

/// `GET /containers/{id}/json`, the parts that matter.
struct DockerContainerState: Sendable, Equatable {
    var id: String
    var name: String
    var status: String
    var health: String?
    var restartCount: Int
    var exitCode: Int
    var oomKilled: Bool
    var startedAt: Date?
    var finishedAt: Date?
    var image: String
    var tty: Bool
    /// HostConfig.Memory in bytes; 0 = no limit.
    var memoryLimit: Int64 = 0
    /// Config.Env: "NAME=value" as the container was created with.
    var environment: [String] = []
    /// The image ID the container runs (`Image`, sha256:…), not its name.
    var imageID: String = ""
    /// `Mounts`: where the container's paths come from on the host.
    var mounts: [DockerMount] = []

    /// The value of one variable of Config.Env.
    func environmentValue(_ name: String) -> String? {
        environment.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }
}

/// One of a container's `Mounts`: a bind mount's host directory, or a volume's `_data`.
struct DockerMount: Sendable, Equatable {
    var source: String
    var destination: String
}

struct DockerImage: Sendable, Equatable {
    var id: String
    var tags: [String]
    var size: UInt64
    var containers: Int
}

/// `GET /images/{name}/json`, the parts that matter.
struct DockerImageDetail: Sendable, Equatable {
    var id: String
    var tags: [String]
    var created: Date?
    var labels: [String: String]
}

struct DockerNetwork: Sendable, Equatable {
    var id: String
    var name: String
    var labels: [String: String]
}

struct DockerDiskUsage: Sendable, Equatable {
    var summary: DockerDiskSummary
}

struct DockerEvent: Sendable, Equatable {
    var action: String
    var containerID: String
    var service: String?
    var time: Date
}
