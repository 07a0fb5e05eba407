import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

extension DockerEngineClient {
    /// Runs `command` in a running container as `docker exec -i` does, without starting a CLI:
    /// create the exec, start it on a connection the engine hijacks (`Upgrade: tcp`), write
    /// `input` and close the write side (the command's stdin sees EOF), read the framed
    /// stdout/stderr until the engine closes, then ask for the exit code. The command is an
    /// argument array; no shell is involved. What comes back is what a local process would
    /// give (`timedOut`: the deadline passed; the command runs on inside the container).
    func exec(_ id: String, command: [String], environment: [String], input: Data, timeout: TimeInterval) throws(DockerError) -> ProcessOutcome {
        let deadline = Date().addingTimeInterval(timeout)
        var spec: [String: Any] = ["AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Tty": false, "Cmd": command]
        if !environment.isEmpty { spec["Env"] = environment }
        let body = (try? JSONSerialization.data(withJSONObject: spec)) ?? Data()
        let path = "/containers/\(Self.escape(id))/exec"
        let created = try request("POST", path, body: body)
        guard created.status == 201 else { throw apiError(created, path) }
        guard let execID = (try json(created, as: [String: Any].self))["Id"] as? String, !execID.isEmpty else {
            throw .malformed("no exec id in \(created.bodyText.prefix(200))")
        }

        let stream = try HijackedConnection.exchange(
            socketPath: socketPath, request: Self.startRequest(execID), input: input, deadline: deadline)
        let (stdout, stderr) = Self.split(stream.body)
        if stream.timedOut {
            return ProcessOutcome(status: -1, stdout: stdout, stderr: stderr, timedOut: true)
        }
        // The stream ends when the command does; the engine may take a moment to record it.
        while true {
            let state = try json(get("/exec/\(Self.escape(execID))/json"), as: [String: Any].self)
            if state["Running"] as? Bool != true {
                return ProcessOutcome(status: Int32(clamping: state["ExitCode"] as? Int ?? -1), stdout: stdout, stderr: stderr, timedOut: false)
            }
            if Date() >= deadline { return ProcessOutcome(status: -1, stdout: stdout, stderr: stderr, timedOut: true) }
            usleep(10_000)
        }
    }

    static func startRequest(_ execID: String) -> Data {
        let body = #"{"Detach":false,"Tty":false}"#
        let head = "POST /\(apiVersion)/exec/\(escape(execID))/start HTTP/1.1\r\nHost: localhost\r\n"
            + "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n"
        return Data((head + body).utf8)
    }

    /// The exec's stream split by `frames` into stdout and stderr.
    static func split(_ data: Data) -> (stdout: String, stderr: String) {
        var out = Data()
        var err = Data()
        for frame in frames(data) {
            if frame.stream == 2 { err.append(frame.payload) } else { out.append(frame.payload) }
        }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// One HTTP exchange on the engine's unix socket whose connection the engine then hijacks:
/// the request, the response head, then raw bytes both ways. libcurl cannot half-close a
/// connection, and the command only sees the end of its stdin when the write side closes.
enum HijackedConnection {
    struct Outcome {
        /// The bytes after the response head, until the engine closed or the deadline passed.
        var body: Data
        var timedOut: Bool
    }

    static let outputLimit = 8 << 20

    static func exchange(socketPath: String, request: Data, input: Data, deadline: Date) throws(DockerError) -> Outcome {
        func failure(_ what: String) -> DockerError {
            .unreachable(socket: socketPath, detail: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .unreachable(socket: socketPath, detail: "the socket path is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw failure("connect") }
        // A write that cannot finish by the deadline fails instead of blocking for ever.
        let remaining = max(0.001, deadline.timeIntervalSinceNow)
        var limit = timeval(tv_sec: Int(remaining), tv_usec: Int((remaining - Double(Int(remaining))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))

        try writeAll(fd, request, socketPath)
        var received = Data()
        var headEnd: Data.Index?
        var eof = false
        var timedOut = false
        // The response head first: 101 (or 200) and the stream follows; anything else is an error.
        while headEnd == nil, !eof, !timedOut {
            (eof, timedOut) = try receive(fd, into: &received, deadline: deadline, socketPath)
            headEnd = received.range(of: Data("\r\n\r\n".utf8))?.upperBound
        }
        guard let headEnd else {
            throw timedOut ? .unreachable(socket: socketPath, detail: "no answer to exec start before the deadline")
                : .malformed("the connection closed before the exec start answer: \(String(decoding: received.prefix(200), as: UTF8.self))")
        }
        let head = String(decoding: received[..<headEnd], as: UTF8.self)
        let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        guard status == 101 || status == 200 else {
            while !eof, !timedOut, received.count < 65_536 { (eof, timedOut) = try receive(fd, into: &received, deadline: deadline, socketPath) }
            let body = String(decoding: received[headEnd...], as: UTF8.self)
            let message = body.range(of: #""message":""#).map { String(body[$0.upperBound...].prefix { $0 != "\"" }) } ?? body
            throw .api(status: status, message: message, path: "/exec/start")
        }
        if !input.isEmpty { try writeAll(fd, input, socketPath) }
        shutdown(fd, Int32(SHUT_WR))
        while !eof, !timedOut {
            (eof, timedOut) = try receive(fd, into: &received, deadline: deadline, socketPath)
            if received.count - headEnd > outputLimit { break }
        }
        return Outcome(body: Data(received[headEnd...]), timedOut: timedOut)
    }

    private static func writeAll(_ fd: Int32, _ data: Data, _ socketPath: String) throws(DockerError) {
        var offset = 0
        while offset < data.count {
            // send with MSG_NOSIGNAL: an engine that closed the connection must be an error
            // here, not a SIGPIPE that ends the agent.
            let written = data.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .unreachable(socket: socketPath, detail: "writing to the engine: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Waits for bytes until the deadline: (end of stream, deadline passed).
    private static func receive(_ fd: Int32, into buffer: inout Data, deadline: Date, _ socketPath: String) throws(DockerError) -> (Bool, Bool) {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { return (false, true) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
        if ready < 0 {
            if errno == EINTR { return (false, false) }
            throw .unreachable(socket: socketPath, detail: "waiting for the engine: \(String(cString: strerror(errno)))")
        }
        if ready == 0 { return (false, deadline.timeIntervalSinceNow <= 0) }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = read(fd, &chunk, chunk.count)
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return (false, false) }
            throw .unreachable(socket: socketPath, detail: "reading from the engine: \(String(cString: strerror(errno)))")
        }
        if count == 0 { return (true, false) }
        buffer.append(contentsOf: chunk[0..<count])
        return (false, false)
    }
}
