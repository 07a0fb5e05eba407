import Foundation

/// The `.env` mistakes self-hosters make with QFieldCloud, each tied to its line: what is
/// wrong and what to write instead.
enum EnvironmentLint {
    struct Problem: Sendable, Equatable {
        var line: Int
        var key: String
        /// What is wrong, for the operator.
        var what: String
        /// What to write on that line instead.
        var write: String
    }

    /// One `KEY=value` line, as compose reads it (quotes removed; the last one of a key wins).
    struct Assignment: Sendable, Equatable {
        var line: Int
        var key: String
        var value: String
    }

    static func assignments(_ text: String) -> [Assignment] {
        var out: [Assignment] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = ComposeProject.parseEnvironment("x=" + line[line.index(after: equals)...])["x"] ?? ""
            out.append(Assignment(line: index + 1, key: key, value: value))
        }
        return out
    }

    static func check(_ text: String) -> [Problem] {
        let all = assignments(text)
        var last: [String: Assignment] = [:]
        var problems: [Problem] = []
        for assignment in all {
            if let earlier = last[assignment.key], earlier.value != assignment.value {
                problems.append(Problem(line: assignment.line, key: assignment.key,
                    what: "\(assignment.key) is set again, to another value (first on line \(earlier.line)); compose uses this last one",
                    write: "one \(assignment.key)= line only"))
            }
            last[assignment.key] = assignment
        }
        if let host = last["QFIELDCLOUD_HOST"] { problems += checkHost(host) }
        if let files = last["COMPOSE_FILE"] { problems += checkComposeFiles(files, separator: last["COMPOSE_PATH_SEPARATOR"]?.value) }
        problems += checkWorkerURL(debug: last["DEBUG"], url: last["QFIELDCLOUD_WORKER_QFIELDCLOUD_URL"], host: last["QFIELDCLOUD_HOST"]?.value)
        problems += checkPorts(http: last["WEB_HTTP_PORT"], https: last["WEB_HTTPS_PORT"])
        return problems.sorted { $0.line < $1.line }
    }

    /// nginx drops (444) every request whose Host is not exactly QFIELDCLOUD_HOST, and browsers
    /// send it lowercased (QFieldCloud #1829); a scheme, port or path never matches either.
    static func checkHost(_ host: Assignment) -> [Problem] {
        var value = host.value
        var why: [String] = []
        if let scheme = value.range(of: "://") {
            value = String(value[scheme.upperBound...])
            why.append("a scheme")
        }
        if let slash = value.firstIndex(of: "/") {
            value = String(value[..<slash])
            why.append("a path")
        }
        if let colon = value.lastIndex(of: ":"), !value.contains("]"), Int(value[value.index(after: colon)...]) != nil {
            value = String(value[..<colon])
            why.append("a port (that is WEB_HTTPS_PORT)")
        }
        if value != value.lowercased() {
            why.append("capitals (browsers and QField send Host lowercased, and nginx then answers 444)")
            value = value.lowercased()
        }
        if value.isEmpty {
            return [Problem(line: host.line, key: host.key, what: "QFIELDCLOUD_HOST is empty: nginx drops every request (444)",
                write: "QFIELDCLOUD_HOST=<the public host name, lowercase>")]
        }
        guard !why.isEmpty else { return [] }
        return [Problem(line: host.line, key: host.key, what: "QFIELDCLOUD_HOST=\(host.value) has " + why.joined(separator: ", "),
            write: "QFIELDCLOUD_HOST=\(value)")]
    }

    /// The local (development) and test overrides expose debug settings, extra ports and
    /// test services; in production they break things (QFieldCloud #835, #755).
    static func checkComposeFiles(_ files: Assignment, separator: String?) -> [Problem] {
        let parts = files.value.split { character in
            if let separator { return String(character) == separator }
            return character == ":" || character == ";"
        }.map(String.init)
        let bad = parts.filter { file in
            let name = (file as NSString).lastPathComponent.lowercased()
            return name.contains(".override.local.") || name.contains(".override.test.") || name.hasSuffix(".test.yml")
                || name.hasSuffix(".test.yaml") || name.hasSuffix(".local.yml") || name.hasSuffix(".local.yaml")
        }
        guard !bad.isEmpty else { return [] }
        let kept = parts.filter { !bad.contains($0) }
        let joined = kept.joined(separator: separator ?? ":")
        return [Problem(line: files.line, key: files.key,
            what: "COMPOSE_FILE includes the development/test override " + bad.joined(separator: ", ") + ", which is not for a production server",
            write: "COMPOSE_FILE=\(joined.isEmpty ? "docker-compose.yml:docker-compose.override.standalone.yml" : joined)")]
    }

    /// With DEBUG off, nginx serves project files (X-Accel-Redirect) and sets the forwarded
    /// headers; a worker that calls the app directly gets 500 on every file (QFieldCloud #1061).
    static func checkWorkerURL(debug: Assignment?, url: Assignment?, host: String?) -> [Problem] {
        guard let url, let debug, ["0", "false", "no", "off"].contains(debug.value.lowercased()) else { return [] }
        guard let target = URL(string: url.value)?.host?.lowercased(), target == "app" else { return [] }
        let public_ = (host ?? "<QFIELDCLOUD_HOST>").lowercased()
        return [Problem(line: url.line, key: url.key,
            what: "DEBUG=\(debug.value) (line \(debug.line)) with the worker calling the app directly (\(url.value)): nginx is bypassed, and every file download of a job fails with 500",
            write: "QFIELDCLOUD_WORKER_QFIELDCLOUD_URL=https://\(public_)/api/v1/ (through nginx; with NGINX_ALLOW_INTERNAL_HTTP=1 and a network alias \(public_) on nginx for http://)")]
    }

    static func checkPorts(http: Assignment?, https: Assignment?) -> [Problem] {
        var problems: [Problem] = []
        var numbers: [String: Int] = [:]
        for (port, fallback) in [(http, "80"), (https, "443")] {
            guard let port else { continue }
            guard let number = Int(port.value), (1...65535).contains(number) else {
                problems.append(Problem(line: port.line, key: port.key, what: "\(port.key)=\(port.value) is not a port number (1–65535)",
                    write: "\(port.key)=\(fallback)"))
                continue
            }
            numbers[port.key] = number
        }
        if let a = numbers["WEB_HTTP_PORT"], let b = numbers["WEB_HTTPS_PORT"], a == b, let https {
            problems.append(Problem(line: https.line, key: https.key, what: "WEB_HTTPS_PORT is WEB_HTTP_PORT (\(a)): nginx cannot listen for both on one port",
                write: "WEB_HTTPS_PORT=443"))
        }
        return problems
    }
}
