import Foundation
import Shared

/// The Docker Engine API over its unix socket through libcurl, at a pinned API version
/// (1.41: Docker 20.10, Debian 12's docker.io, and every later engine).
struct DockerEngineClient: DockerEngine {
    static let apiVersion = "v1.41"
    let socketPath: String
    var timeout: TimeInterval = 30

    init(socketPath: String) {
        self.socketPath = socketPath
    }

    // MARK: Containers

    func containers(project: String) throws(DockerError) -> [DockerContainer] {
        let filters = Self.filters(["label": ["com.docker.compose.project=\(project)"]])
        return try listContainers(query: "all=1&filters=\(filters)")
    }

    func allContainers() throws(DockerError) -> [DockerContainer] {
        try listContainers(query: "all=1")
    }

    func containers(label: String) throws(DockerError) -> [DockerContainer] {
        try listContainers(query: "all=1&filters=\(Self.filters(["label": [label]]))")
    }

    private func listContainers(query: String) throws(DockerError) -> [DockerContainer] {
        let array = try json(get("/containers/json?\(query)"), as: [[String: Any]].self)
        return array.map { item in
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

    func inspect(_ id: String) throws(DockerError) -> DockerContainerState {
        let object = try json(get("/containers/\(Self.escape(id))/json"), as: [String: Any].self)
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
            startedAt: Self.date(state["StartedAt"]),
            finishedAt: Self.date(state["FinishedAt"]),
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

    func image(_ reference: String) throws(DockerError) -> DockerImageDetail? {
        let path = "/images/\(Self.escape(reference))/json"
        let response = try request("GET", path)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw apiError(response, path) }
        let object = try json(response, as: [String: Any].self)
        let config = object["Config"] as? [String: Any] ?? [:]
        return DockerImageDetail(
            id: object["Id"] as? String ?? "", tags: object["RepoTags"] as? [String] ?? [], created: Self.date(object["Created"]),
            labels: config["Labels"] as? [String: String] ?? [:])
    }

    func network(_ name: String) throws(DockerError) -> DockerNetwork? {
        let path = "/networks/\(Self.escape(name))"
        let response = try request("GET", path)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw apiError(response, path) }
        let object = try json(response, as: [String: Any].self)
        let found = DockerNetwork(id: object["Id"] as? String ?? "", name: object["Name"] as? String ?? "", labels: object["Labels"] as? [String: String] ?? [:])
        // The engine also answers for an ID prefix that happens to equal the name.
        return found.name == name || found.id == name ? found : nil
    }

    func restart(_ id: String, stopTimeout: Int) throws(DockerError) {
        try expectNoContent(post("/containers/\(Self.escape(id))/restart?t=\(stopTimeout)", timeout: TimeInterval(stopTimeout) + 30))
    }

    func start(_ id: String) throws(DockerError) {
        let response = try post("/containers/\(Self.escape(id))/start")
        // 304: already started.
        guard response.status == 204 || response.status == 304 else { throw apiError(response, "/containers/\(id)/start") }
    }

    func logs(_ id: String, tail: Int) throws(DockerError) -> String {
        let tty = (try? inspect(id).tty) ?? false
        let response = try get("/containers/\(Self.escape(id))/logs?stdout=1&stderr=1&timestamps=1&tail=\(tail)")
        return tty ? response.bodyText : Self.demultiplex(response.body)
    }

    func logs(_ id: String, since: String, tail: Int) throws(DockerError) -> String {
        let response = try get("/containers/\(Self.escape(id))/logs?stdout=1&stderr=0&timestamps=1&since=\(since)&tail=\(tail)", timeout: 30)
        // A TTY log is plain text, which starts with a timestamp digit, never with a frame header.
        let body = response.body
        let framed = body.count >= 8 && (body[body.startIndex] == 1 || body[body.startIndex] == 2)
            && body[body.startIndex + 1] == 0 && body[body.startIndex + 2] == 0 && body[body.startIndex + 3] == 0
        return framed ? Self.demultiplex(body) : response.bodyText
    }

    /// Logs of containers without a TTY come framed (see `frames`): both streams, in order.
    static func demultiplex(_ data: Data) -> String {
        String(decoding: frames(data).reduce(into: Data()) { $0.append($1.payload) }, as: UTF8.self)
    }

    /// A stream without a TTY (logs, exec) comes framed: 8-byte header (1 = stdout,
    /// 2 = stderr; 0, 0, 0; size big-endian), then the bytes. A frame cut short at the end
    /// keeps what arrived.
    static func frames(_ data: Data) -> [(stream: UInt8, payload: Data)] {
        var out: [(stream: UInt8, payload: Data)] = []
        var index = data.startIndex
        while index + 8 <= data.endIndex {
            let size = data[(index + 4)..<(index + 8)].reduce(0) { $0 << 8 | Int($1) }
            let start = index + 8
            let end = min(start + size, data.endIndex)
            out.append((data[index], data[start..<end]))
            index = end
        }
        return out
    }

    // MARK: Disk, images, networks

    func diskUsage() throws(DockerError) -> DockerDiskUsage {
        let object = try json(get("/system/df", timeout: 120), as: [String: Any].self)
        func uint(_ value: Any?) -> UInt64 { UInt64(max(0, (value as? Int) ?? 0)) }
        let images = object["Images"] as? [[String: Any]] ?? []
        let imagesBytes = images.reduce(UInt64(0)) { $0 + uint($1["Size"]) }
        let unusedImageBytes = images.filter { ($0["Containers"] as? Int ?? 0) == 0 }.reduce(UInt64(0)) { $0 + uint($1["Size"]) }
        let cache = object["BuildCache"] as? [[String: Any]] ?? []
        let cacheBytes = cache.reduce(UInt64(0)) { $0 + uint($1["Size"]) }
        let reclaimableCache = cache.filter { !($0["InUse"] as? Bool ?? false) && !($0["Shared"] as? Bool ?? false) }.reduce(UInt64(0)) { $0 + uint($1["Size"]) }
        let containers = object["Containers"] as? [[String: Any]] ?? []
        let volumes = object["Volumes"] as? [[String: Any]] ?? []
        return DockerDiskUsage(summary: DockerDiskSummary(
            imagesBytes: imagesBytes, reclaimableImageBytes: unusedImageBytes, buildCacheBytes: cacheBytes,
            reclaimableBuildCacheBytes: reclaimableCache,
            containersBytes: containers.reduce(UInt64(0)) { $0 + uint($1["SizeRw"]) },
            volumesBytes: volumes.reduce(UInt64(0)) { $0 + uint(($1["UsageData"] as? [String: Any])?["Size"]) }))
    }

    func danglingImages() throws(DockerError) -> [DockerImage] {
        try listImages(query: "filters=\(Self.filters(["dangling": ["true"]]))")
    }

    func images() throws(DockerError) -> [DockerImage] {
        try listImages(query: "all=0")
    }

    private func listImages(query: String) throws(DockerError) -> [DockerImage] {
        let array = try json(get("/images/json?\(query)"), as: [[String: Any]].self)
        return array.map { item in
            DockerImage(
                id: item["Id"] as? String ?? "",
                tags: (item["RepoTags"] as? [String] ?? []).filter { $0 != "<none>:<none>" },
                size: UInt64(max(0, item["Size"] as? Int ?? 0)),
                containers: item["Containers"] as? Int ?? -1)
        }
    }

    func removeImage(_ id: String) throws(DockerError) {
        // No force: the engine itself refuses to remove an image a container uses.
        let response = try request("DELETE", "/images/\(Self.escape(id))?noprune=0", timeout: 120)
        guard response.status == 200 else { throw apiError(response, "/images/\(id)") }
    }

    func pruneBuildCache() throws(DockerError) -> UInt64 {
        let response = try post("/build/prune", timeout: 300)
        guard response.status == 200 else { throw apiError(response, "/build/prune") }
        let object = try json(response, as: [String: Any].self)
        return UInt64(max(0, object["SpaceReclaimed"] as? Int ?? 0))
    }

    func unusedNetworks() throws(DockerError) -> [DockerNetwork] {
        let networks = try json(get("/networks"), as: [[String: Any]].self)
        var unused: [DockerNetwork] = []
        for network in networks {
            let name = network["Name"] as? String ?? ""
            guard !["bridge", "host", "none"].contains(name) else { continue }
            let id = network["Id"] as? String ?? ""
            // The list omits attached containers; inspect shows them.
            let detail = try json(get("/networks/\(Self.escape(id))"), as: [String: Any].self)
            let attached = (detail["Containers"] as? [String: Any])?.count ?? 0
            if attached == 0 {
                unused.append(DockerNetwork(id: id, name: name, labels: network["Labels"] as? [String: String] ?? [:]))
            }
        }
        return unused
    }

    func removeNetwork(_ id: String) throws(DockerError) {
        let response = try request("DELETE", "/networks/\(Self.escape(id))")
        guard response.status == 204 || response.status == 404 else { throw apiError(response, "/networks/\(id)") }
    }

    // MARK: Events

    func followEvents(project: String, abort: AbortFlag, handler: @escaping (DockerEvent) -> Bool) throws(DockerError) {
        let filters = Self.filters([
            "type": ["container"], "label": ["com.docker.compose.project=\(project)"],
            "event": ["die", "oom", "health_status", "restart", "kill", "stop", "start"],
        ])
        let client = CurlHTTPClient(unixSocketPath: socketPath)
        var buffer = Data()
        let request = HTTPRequest(url: "http://localhost/\(Self.apiVersion)/events?filters=\(filters)", timeout: 86_400 * 365)
        do {
            _ = try client.perform(request, abort: abort) { chunk in
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0a) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                    let actor = object["Actor"] as? [String: Any] ?? [:]
                    let attributes = actor["Attributes"] as? [String: String] ?? [:]
                    let action = (object["Action"] as? String ?? object["status"] as? String ?? "").split(separator: ":").first.map(String.init) ?? ""
                    let event = DockerEvent(
                        action: action, containerID: actor["ID"] as? String ?? object["id"] as? String ?? "",
                        service: attributes["com.docker.compose.service"],
                        time: Date(timeIntervalSince1970: Double(object["timeNano"] as? Int ?? 0) / 1e9))
                    if !handler(event) { return false }
                }
                return !abort.isSet
            }
        } catch {
            if error.kind == .aborted { return }
            throw .unreachable(socket: socketPath, detail: error.detail)
        }
    }

    func oomEvents(_ id: String, since: Date, until: Date) throws(DockerError) -> [Date] {
        let filters = Self.filters(["type": ["container"], "container": [id], "event": ["oom"]])
        // With `until` in the past the engine replays what it kept and closes the stream.
        let response = try get("/events?since=\(Self.unixTime(since))&until=\(Self.unixTime(until))&filters=\(filters)", timeout: 10)
        return response.body.split(separator: 0x0a).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let nanos = object["timeNano"] as? Int else { return nil }
            return Date(timeIntervalSince1970: Double(nanos) / 1e9)
        }
    }

    func oomEvents(label: String, since: Date, until: Date) throws(DockerError) -> [DockerEvent] {
        let filters = Self.filters(["type": ["container"], "label": [label], "event": ["oom"]])
        let response = try get("/events?since=\(Self.unixTime(since))&until=\(Self.unixTime(until))&filters=\(filters)", timeout: 10)
        return response.body.split(separator: 0x0a).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let nanos = object["timeNano"] as? Int else { return nil }
            let actor = object["Actor"] as? [String: Any] ?? [:]
            let attributes = actor["Attributes"] as? [String: String] ?? [:]
            return DockerEvent(
                action: "oom", containerID: actor["ID"] as? String ?? object["id"] as? String ?? "",
                service: attributes["com.docker.compose.service"], time: Date(timeIntervalSince1970: Double(nanos) / 1e9))
        }
    }

    func dieExitCodes(_ id: String, since: Date, until: Date) throws(DockerError) -> [Int] {
        let filters = Self.filters(["type": ["container"], "container": [id], "event": ["die"]])
        let response = try get("/events?since=\(Self.unixTime(since))&until=\(Self.unixTime(until))&filters=\(filters)", timeout: 10)
        return response.body.split(separator: 0x0a).compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let attributes = (object["Actor"] as? [String: Any])?["Attributes"] as? [String: String] else { return nil }
            return attributes["exitCode"].flatMap { Int($0) }
        }
    }

    /// Seconds since 1970 as `since`/`until` take them, to the microsecond (what a `Date`
    /// this far from 2001 holds): "1790000000.250000".
    static func unixTime(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1e6).rounded())
        let fraction = String(micros % 1_000_000)
        return "\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    // MARK: Plumbing

    func get(_ path: String, timeout: TimeInterval? = nil) throws(DockerError) -> HTTPResponse {
        let response = try request("GET", path, timeout: timeout)
        guard response.status == 200 else { throw apiError(response, path) }
        return response
    }

    private func post(_ path: String, timeout: TimeInterval? = nil) throws(DockerError) -> HTTPResponse {
        try request("POST", path, timeout: timeout)
    }

    func request(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval? = nil) throws(DockerError) -> HTTPResponse {
        let client = CurlHTTPClient(unixSocketPath: socketPath)
        do {
            return try client.perform(HTTPRequest(
                method: method, url: "http://localhost/\(Self.apiVersion)\(path)",
                headers: body == nil ? [] : [("Content-Type", "application/json")], body: body ?? (method == "POST" ? Data() : nil),
                timeout: timeout ?? self.timeout, connectTimeout: 5))
        } catch {
            throw .unreachable(socket: socketPath, detail: error.kind == .couldNotConnect ? "no engine listening (is dockerd running, and may this user use its socket?)" : error.detail)
        }
    }

    private func expectNoContent(_ response: HTTPResponse) throws(DockerError) {
        guard response.status == 204 else { throw apiError(response, "") }
    }

    func apiError(_ response: HTTPResponse, _ path: String) -> DockerError {
        let message = (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["message"] as? String ?? response.bodyText
        return .api(status: response.status, message: message, path: path)
    }

    func json<T>(_ response: HTTPResponse, as type: T.Type) throws(DockerError) -> T {
        guard let value = try? JSONSerialization.jsonObject(with: response.body) as? T else {
            throw .malformed("expected \(T.self), got \(response.bodyText.prefix(200))")
        }
        return value
    }

    static func filters(_ value: [String: [String]]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
        return escape(String(decoding: data, as: UTF8.self))
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String, !text.hasPrefix("0001-") else { return nil }
        // Docker writes nanoseconds; keep milliseconds.
        var trimmed = text
        if let dot = text.firstIndex(of: "."), let zone = text.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }), zone > dot {
            let fraction = text[text.index(after: dot)..<zone].prefix(3)
            trimmed = String(text[..<dot]) + "." + fraction + String(text[zone...])
        }
        return WireDate.parse(trimmed)
    }
}
