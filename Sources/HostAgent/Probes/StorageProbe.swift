import Foundation
import Shared

/// QFieldCloud's object storage, reached the way its users' requests reach it: the endpoint
/// and bucket of every storage in the install's `.env` (`STORAGES`, or the older
/// `STORAGE_ENDPOINT_URL`/`STORAGE_BUCKET_NAME`) from inside the running `app` container —
/// `http://minio:9000` resolves only there, and a firewall between containers and the host
/// (QFieldCloud #814) shows only there — and, when `[storage] public_url` is set, from this
/// host as a phone would (#999). The storage service's recent log is read for the errors
/// MinIO/RustFS print when the disk is full or the data is unreadable.
struct StorageProbe: Probe {
    let name = "storage"
    var compose: ComposeProject
    var engine: any DockerEngine
    var publicURL: String?
    var timeout: TimeInterval = 5

    /// One storage of the install.
    struct Target: Sendable, Equatable {
        var storage: String
        var endpoint: String
        var bucket: String?

        /// Path-style bucket URL (what MinIO, RustFS and moto answer).
        var url: String {
            let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
            return bucket.map { base + "/" + $0 } ?? base
        }
    }

    /// How one request went: an HTTP status, or an error before any answer.
    enum Answer: Sendable, Equatable {
        case status(Int)
        case failed(String)
        /// The check could not run (no tool in the container, no container).
        case couldNotLook(String)
    }

    static let storageServices: Set<String> = ["minio", "rustfs", "storage"]
    /// What MinIO and RustFS log when they cannot serve.
    static let logPatterns = ["XMinioStorageFull", "minimum free drive threshold", "unknown minor metadata version", "Disk full", "no space left on device"]

    func collect() async -> ProbeResult {
        let environment = compose.environmentFile()
        let targets = Self.targets(environment)
        var findings: [Finding] = []
        var notLooked: [String] = []
        let app = (try? engine.containers(project: compose.project))?.first {
            $0.service == "app" && $0.state == "running" && $0.labels["com.docker.compose.oneoff"] != "True"
        }
        for target in targets {
            guard let app else {
                notLooked.append("\(target.storage): no running app container to reach \(target.endpoint) from")
                continue
            }
            let answer = fromContainer(app, target.url)
            if case .couldNotLook(let why) = answer { notLooked.append("\(target.storage): \(why)"); continue }
            if let finding = Self.finding(for: target, answer: answer, from: "the app container (as QFieldCloud reaches it)") { findings.append(finding) }
        }
        if let publicURL, let bucket = targets.first?.bucket {
            let target = Target(storage: "public", endpoint: publicURL, bucket: bucket)
            if let finding = Self.finding(for: target, answer: fromHost(target.url), from: "this host through the public URL (as a phone reaches it)") {
                findings.append(finding)
            }
        }
        findings += storageLogFindings()
        let error = notLooked.isEmpty ? nil : "could not reach the storage to look: " + notLooked.joined(separator: "; ")
        return ProbeResult(findings: findings, error: error,
                           fix: error == nil ? nil : "the agent reaches the storage from inside the app container with python3 or wget; set [storage] public_url to check it from this host")
    }

    /// The storages named in `.env`.
    static func targets(_ environment: [String: String]) -> [Target] {
        if let json = environment["STORAGES"], let data = json.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            return object.keys.sorted().compactMap { name in
                guard let storage = object[name] as? [String: Any], let options = storage["OPTIONS"] as? [String: Any],
                      let endpoint = options["endpoint_url"] as? String, !endpoint.isEmpty else { return nil }
                let bucket = (options["bucket_name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                return Target(storage: name, endpoint: endpoint, bucket: bucket)
            }
        }
        if let endpoint = environment["STORAGE_ENDPOINT_URL"], !endpoint.isEmpty {
            let bucket = environment["STORAGE_BUCKET_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            return [Target(storage: "default", endpoint: endpoint, bucket: bucket)]
        }
        return []
    }

    /// The finding an answer means, or nil when the storage answered as it should (any
    /// status but 404 and 5xx: 403 is a bucket that exists and wants credentials).
    static func finding(for target: Target, answer: Answer, from place: String) -> Finding? {
        var evidence = ["storage": target.storage, "endpoint": target.endpoint, "from": place]
        if let bucket = target.bucket { evidence["bucket"] = bucket }
        switch answer {
        case .couldNotLook:
            return nil
        case .failed(let why):
            evidence["error"] = why
            return Finding(.storageUnreachable, severity: .critical, subject: target.storage,
                           message: "the object storage \(target.endpoint) does not answer from \(place): \(why). "
                               + "Check the storage service runs (`docker compose ps`), the endpoint in .env (inside the stack use the service name, e.g. http://minio:9000), "
                               + "and that no firewall blocks the containers from reaching it",
                           evidence: evidence)
        case .status(let code):
            evidence["http_status"] = String(code)
            if code == 404 {
                return Finding(.storageUnreachable, severity: .critical, subject: target.storage,
                               message: "the bucket \(target.bucket ?? "?") does not exist at \(target.endpoint) (HTTP 404 from \(place)): "
                                   + "the one-shot createbuckets failed or never ran; read `docker compose logs createbuckets`, then `docker compose up createbuckets`",
                               evidence: evidence)
            }
            if code >= 500 {
                return Finding(.storageUnreachable, severity: .critical, subject: target.storage,
                               message: "the object storage \(target.endpoint) answers HTTP \(code) from \(place): read the storage service's logs (`docker compose logs --tail 200 minio`)",
                               evidence: evidence)
            }
            return nil
        }
    }

    /// A HEAD request from inside the container: python3 (the real app image has it), else
    /// busybox/GNU wget. The URL is an argument, never part of a command line.
    func fromContainer(_ container: DockerContainer, _ url: String) -> Answer {
        let python = ["python3", "-c", Self.headScript, url]
        if let outcome = try? engine.exec(container.id, command: python, environment: [], input: Data(), timeout: timeout + 2) {
            if outcome.status != 126 && outcome.status != 127 && !outcome.timedOut { return Self.parsePython(outcome) }
            if outcome.timedOut { return .failed("no answer within \(DurationText.format(timeout))") }
        }
        // No -S or -T: Debian's static busybox wget crashes (SIGSEGV) with either; the exec's
        // own deadline bounds the wait.
        let wget = ["wget", "--spider", url]
        guard let outcome = try? engine.exec(container.id, command: wget, environment: [], input: Data(), timeout: timeout + 2) else {
            return .couldNotLook("the Docker engine refused the exec in \(container.name)")
        }
        if outcome.status == 126 || outcome.status == 127 { return .couldNotLook("neither python3 nor wget runs in \(container.name)") }
        if outcome.timedOut { return .failed("no answer within \(DurationText.format(timeout))") }
        // Killed by a signal: the tool failed, which says nothing about the storage.
        if outcome.status > 128 { return .couldNotLook("wget in \(container.name) died with signal \(outcome.status - 128)") }
        return Self.parseWget(outcome)
    }

    static let headScript = """
        import sys, urllib.request, urllib.error
        try:
            print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=5).status)
        except urllib.error.HTTPError as e:
            print(e.code)
        except Exception as e:
            print("error", e)
            sys.exit(2)
        """

    static func parsePython(_ outcome: ProcessOutcome) -> Answer {
        let text = outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if let code = Int(text) { return .status(code) }
        let why = text.hasPrefix("error ") ? String(text.dropFirst(6)) : (text.isEmpty ? outcome.stderr : text)
        return .failed(Redactor.redact(String(why.prefix(300))))
    }

    /// busybox: "remote file exists", "server returned error: HTTP/1.1 404 Not Found",
    /// "can't connect to remote host (…): Connection refused", "bad address"; GNU wget prints
    /// "HTTP request sent, awaiting response... 404 Not Found".
    static func parseWget(_ outcome: ProcessOutcome) -> Answer {
        let text = outcome.stderr + "\n" + outcome.stdout
        if text.contains("remote file exists") { return .status(200) }
        if let range = text.range(of: #"awaiting response\.\.\. (\d{3})"#, options: .regularExpression), let code = Int(text[range].suffix(3)) {
            return .status(code)
        }
        if let range = text.range(of: #"HTTP/\d(\.\d)? (\d{3})"#, options: .regularExpression) {
            let digits = text[range].suffix(3)
            if let code = Int(digits) { return .status(code) }
        }
        if outcome.status == 0 { return .status(200) }
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? "wget exited \(outcome.status)"
        return .failed(Redactor.redact(String(line.replacingOccurrences(of: "wget: ", with: "").prefix(300))))
    }

    func fromHost(_ url: String) -> Answer {
        let client = CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: true), maxResponseBytes: 64 << 10)
        do {
            let response = try client.perform(HTTPRequest(method: "HEAD", url: url, headers: [], timeout: timeout, connectTimeout: timeout))
            return .status(response.status)
        } catch {
            return .failed(Redactor.redact(error.description))
        }
    }

    /// MinIO/RustFS errors in the storage service's last log lines.
    func storageLogFindings() -> [Finding] {
        guard let containers = try? engine.containers(project: compose.project) else { return [] }
        var findings: [Finding] = []
        for container in containers where Self.storageServices.contains(container.service ?? "") {
            guard let logs = try? engine.logs(container.id, tail: 200),
                  let pattern = Self.logPatterns.first(where: { logs.localizedCaseInsensitiveContains($0) }) else { continue }
            let line = logs.split(whereSeparator: \.isNewline).last { $0.localizedCaseInsensitiveContains(pattern) }.map(String.init) ?? pattern
            findings.append(Finding(
                .storageUnreachable, severity: .critical, subject: container.service ?? container.name,
                message: "\(container.name) logs \"\(pattern)\": the object storage cannot serve. "
                    + (pattern.lowercased().contains("full") || pattern.lowercased().contains("space")
                        ? "Its disk is full: free space on the volume it writes to (old versions of deleted projects stay in a versioned bucket)."
                        : "Read `docker compose logs --tail 200 \(container.service ?? container.name)`."),
                evidence: ["container": container.name, "log_line": Redactor.redact(String(line.prefix(300)))]))
        }
        return findings
    }
}
