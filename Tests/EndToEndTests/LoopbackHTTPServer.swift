import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A Hummingbird server on 127.0.0.1 and a free port that answers every request with
/// `respond(request, body)`: what the fakes of the services FieldMedic cannot reach here
/// (GitHub, Telegram, Slack, webhook receivers) run on. `stop` shuts it down gracefully.
final class LoopbackHTTPServer: @unchecked Sendable {
    // @unchecked: `task` and `group` are set once in `start`, before the server is handed out.
    let port: Int
    private let task: Task<Void, Never>
    private let group: ServiceGroup

    private init(port: Int, task: Task<Void, Never>, group: ServiceGroup) {
        self.port = port
        self.task = task
        self.group = group
    }

    static func start(name: String, maxBodyBytes: Int,
                      respond: @escaping @Sendable (Request, Data) -> Response) async throws -> LoopbackHTTPServer {
        var logger = Logger(label: "fake-\(name)")
        logger.logLevel = .error
        let started = StartSignal()
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: maxBodyBytes)
            return respond(request, Data(body.readableBytesView))
        }
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in started.finish(.success(channel.localAddress?.port ?? 0)) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await group.run()
                started.finish(.failure(LoopbackServerError("the fake \(name) server stopped before it listened")))
            } catch {
                started.finish(.failure(error))
            }
        }
        return LoopbackHTTPServer(port: try await started.value(), task: task, group: group)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        await task.value
    }
}

struct LoopbackServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Hands the bound port (or the failure to bind) from the server task to `start`, once.
private final class StartSignal: @unchecked Sendable {
    // @unchecked: `result` and `waiter` are only touched while holding `lock`.
    private let lock = NSLock()
    private var result: Result<Int, any Error>?
    private var waiter: CheckedContinuation<Int, any Error>?

    func finish(_ outcome: Result<Int, any Error>) {
        let waiter: CheckedContinuation<Int, any Error>? = lock.withLock {
            guard result == nil else { return nil }
            result = outcome
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(with: outcome)
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = lock.withLock {
                if result == nil { waiter = continuation }
                return result
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
