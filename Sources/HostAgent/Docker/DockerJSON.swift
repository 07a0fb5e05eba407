import Foundation
import Shared

/// The Engine API's JSON answers, read into FieldMedic's types. Pure functions of the bytes
/// the engine sent: the client calls them, the fuzz target `docker` feeds them anything, and
/// a field that is missing or of another type becomes its default, never a crash.
enum DockerJSON {
    static func object<T>(_ body: Data, as type: T.Type) throws(DockerError) -> T {
        guard let value = try? JSONSerialization.jsonObject(with: body) as? T else {
            throw .malformed("expected \(T.self), got \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        return value
    }

    /// `GET /containers/json`.
    static func containers(_ body: Data) throws(DockerError) -> [DockerContainer] {
        try object(body, as: [[String: Any]].self).map { item in
            let names = item["Names"] as? [String] ?? []
            return DockerContainer(
                id: item["Id"] as? String ?? "",
                name: (names.first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                image: item["Image"] as? String ?? "",
                imageID: item["ImageID"] as? String ?? "",
                state: item["State"] as? String ?? "unknown",
                labels: item["Labels"] as? [String: String] ?? [:])
        }
    }

    /// `GET /containers/{id}/json`.
    static func containerState(_ body: Data, id: String) throws(DockerError) -> DockerContainerState {
        let object = try object(body, as: [String: Any].self)
        let state = object["State"] as? [String: Any] ?? [:]
        let config = object["Config"] as? [String: Any] ?? [:]
        let health = state["Health"] as? [String: Any]
        let hostConfig = object["HostConfig"] as? [String: Any] ?? [:]
        return DockerContainerState(
            id: object["Id"] as? String ?? id,
            name: (object["Name"] as? String ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")),
            status: state["Status"] as? String ?? "unknown",
            health: health?["Status"] as? String,
            restartCount: object["RestartCount"] as? Int ?? 0,
            exitCode: state["ExitCode"] as? Int ?? 0,
            oomKilled: state["OOMKilled"] as? Bool ?? false,
            startedAt: date(state["StartedAt"]),
            finishedAt: date(state["FinishedAt"]),
            image: config["Image"] as? String ?? "",
            tty: config["Tty"] as? Bool ?? false,
            memoryLimit: Int64(hostConfig["Memory"] as? Int ?? 0),
            environment: config["Env"] as? [String] ?? [],
            imageID: object["Image"] as? String ?? "",
            mounts: (object["Mounts"] as? [[String: Any]] ?? []).compactMap { mount in
                guard let source = mount["Source"] as? String, let destination = mount["Destination"] as? String else { return nil }
                return DockerMount(source: source, destination: destination)
            })
    }

    /// `GET /images/{name}/json`.
    static func imageDetail(_ body: Data) throws(DockerError) -> DockerImageDetail {
        let object = try object(body, as: [String: Any].self)
        let config = object["Config"] as? [String: Any] ?? [:]
        return DockerImageDetail(
            id: object["Id"] as? String ?? "", tags: object["RepoTags"] as? [String] ?? [], created: date(object["Created"]),
            labels: config["Labels"] as? [String: String] ?? [:])
    }

    /// `GET /networks/{name}`: nil when the engine answered for an ID prefix that happens to
    /// equal the name, not for the network of that name.
    static func network(_ body: Data, name: String) throws(DockerError) -> DockerNetwork? {
        let object = try object(body, as: [String: Any].self)
        let found = DockerNetwork(id: object["Id"] as? String ?? "", name: object["Name"] as? String ?? "", labels: object["Labels"] as? [String: String] ?? [:])
        return found.name == name || found.id == name ? found : nil
    }

    /// `GET /images/json`.
    static func images(_ body: Data) throws(DockerError) -> [DockerImage] {
        try object(body, as: [[String: Any]].self).map { item in
            DockerImage(
                id: item["Id"] as? String ?? "",
                tags: (item["RepoTags"] as? [String] ?? []).filter { $0 != "<none>:<none>" },
                size: UInt64(max(0, item["Size"] as? Int ?? 0)),
                containers: item["Containers"] as? Int ?? -1)
        }
    }

    /// `GET /system/df`.
    static func diskUsage(_ body: Data) throws(DockerError) -> DockerDiskUsage {
        let object = try object(body, as: [String: Any].self)
        // Sizes add up without trapping on overflow: a byte count is never negative, and an
        // absurd one saturates.
        func uint(_ value: Any?) -> UInt64 { UInt64(max(0, (value as? Int) ?? 0)) }
        func sum(_ items: [[String: Any]], _ size: ([String: Any]) -> Any?) -> UInt64 {
            items.reduce(UInt64(0)) { total, item in
                let (added, overflow) = total.addingReportingOverflow(uint(size(item)))
                return overflow ? UInt64.max : added
            }
        }
        let images = object["Images"] as? [[String: Any]] ?? []
        let cache = object["BuildCache"] as? [[String: Any]] ?? []
        let containers = object["Containers"] as? [[String: Any]] ?? []
        let volumes = object["Volumes"] as? [[String: Any]] ?? []
        return DockerDiskUsage(summary: DockerDiskSummary(
            imagesBytes: sum(images) { $0["Size"] },
            reclaimableImageBytes: sum(images.filter { ($0["Containers"] as? Int ?? 0) == 0 }) { $0["Size"] },
            buildCacheBytes: sum(cache) { $0["Size"] },
            reclaimableBuildCacheBytes: sum(cache.filter { !($0["InUse"] as? Bool ?? false) && !($0["Shared"] as? Bool ?? false) }) { $0["Size"] },
            containersBytes: sum(containers) { $0["SizeRw"] },
            volumesBytes: sum(volumes) { ($0["UsageData"] as? [String: Any])?["Size"] }))
    }

    /// One line of `GET /events`; nil for a line that is not an event object.
    static func event(_ line: Data) -> DockerEvent? { timed(line)?.event }

    /// The events of a replayed `GET /events?since&until` body that carry a time.
    static func timedEvents(_ body: Data) -> [DockerEvent] {
        body.split(separator: 0x0a).compactMap { line in timed(Data(line)).flatMap { $0.hasTime ? $0.event : nil } }
    }

    /// One event line read once: the event (time 1970 when the line has none) and whether it had one.
    private static func timed(_ line: Data) -> (event: DockerEvent, hasTime: Bool)? {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { return nil }
        let actor = object["Actor"] as? [String: Any] ?? [:]
        let attributes = actor["Attributes"] as? [String: String] ?? [:]
        let action = (object["Action"] as? String ?? object["status"] as? String ?? "").split(separator: ":").first.map(String.init) ?? ""
        let at = time(object["timeNano"])
        return (DockerEvent(
            action: action, containerID: actor["ID"] as? String ?? object["id"] as? String ?? "",
            service: attributes["com.docker.compose.service"], time: at ?? Date(timeIntervalSince1970: 0)), at != nil)
    }

    /// The times of a replayed `GET /events` body.
    static func eventTimes(_ body: Data) -> [Date] { timedEvents(body).map(\.time) }

    /// The exit codes of the `die` events of a replayed `GET /events` body.
    static func dieExitCodes(_ body: Data) -> [Int] {
        body.split(separator: 0x0a).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let attributes = (object["Actor"] as? [String: Any])?["Attributes"] as? [String: String] else { return nil }
            return attributes["exitCode"].flatMap { Int($0) }
        }
    }

    static func time(_ value: Any?) -> Date? {
        guard let nanos = value as? Int else { return nil }
        return Date(timeIntervalSince1970: Double(nanos) / 1e9)
    }

    /// Docker's RFC 3339 times with nanoseconds (milliseconds kept); the zero time is nil.
    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String, !text.hasPrefix("0001-") else { return nil }
        var trimmed = text
        if let dot = text.firstIndex(of: "."), let zone = text.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }), zone > dot {
            let fraction = text[text.index(after: dot)..<zone].prefix(3)
            trimmed = String(text[..<dot]) + "." + fraction + String(text[zone...])
        }
        return WireDate.parse(trimmed)
    }
}
