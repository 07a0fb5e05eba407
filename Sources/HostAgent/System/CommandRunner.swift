import Foundation
import Shared
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A program to run: an executable and an argument array (never a shell string).
struct ProcessCommand: Sendable, Equatable {
    var executable: String
    var arguments: [String]
    /// Added to (or replacing) the inherited environment.
    var environment: [String: String] = [:]
    var workingDirectory: String?
    var input: String?
    var timeout: TimeInterval = 60

    /// For logs and errors: secrets in arguments are redacted.
    var display: String { Redactor.redact(([executable] + arguments).joined(separator: " ")) }
}

struct ProcessOutcome: Sendable, Equatable {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var succeeded: Bool { status == 0 && !timedOut }
}

/// Runs programs (`docker compose`, `psql`). Tests substitute a fake; the real one is
/// `SubprocessRunner`.
///
/// ```swift
/// let outcome = try await runner.run(ProcessCommand(executable: "psql", arguments: ["-At", "-c", "select 1"]))
/// ```
protocol CommandRunner: Sendable {
    func run(_ command: ProcessCommand) async throws -> ProcessOutcome
}

enum CommandRunnerError: Error, CustomStringConvertible {
    case notFound(String)
    case failedToStart(String, String)

    var description: String {
        switch self {
        case .notFound(let executable): return "\(executable) is not installed (not found on PATH)"
        case .failedToStart(let command, let why): return "cannot start \(command): \(why)"
        }
    }
}

/// swift-subprocess with a deadline: the run races a timer; on timeout the whole process
/// group gets SIGTERM, then SIGKILL, so a child of the child cannot linger.
struct SubprocessRunner: CommandRunner {
    var outputLimit = 4 << 20

    func run(_ command: ProcessCommand) async throws -> ProcessOutcome {
        guard let path = Self.resolve(command.executable) else { throw CommandRunnerError.notFound(command.executable) }
        let limit = outputLimit
        return try await withThrowingTaskGroup(of: ProcessOutcome?.self) { group in
            group.addTask {
                do {
                    return try await Self.execute(command, path: path, limit: limit)
                } catch is CancellationError {
                    return nil
                } catch {
                    if Task.isCancelled { return nil }
                    throw CommandRunnerError.failedToStart(command.display, "\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(command.timeout * 1000)))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            if let outcome = first { return outcome }
            // The timer won: wait for the cancelled run to be torn down.
            while let _ = try? await group.next() {}
            return ProcessOutcome(status: -1, stdout: "", stderr: "timed out after \(DurationText.format(command.timeout))", timedOut: true)
        }
    }

    private static func execute(_ command: ProcessCommand, path: String, limit: Int) async throws -> ProcessOutcome {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in command.environment {
            if let name = Environment.Key(rawValue: key) { updates[name] = value }
        }
        let environment = Environment.inherit.updating(updates)
        let directory = command.workingDirectory.map { FilePath($0) }
        if let input = command.input {
            let result = try await Subprocess.run(
                .path(FilePath(path)), arguments: Arguments(command.arguments), environment: environment,
                workingDirectory: directory, platformOptions: options, input: .string(input),
                output: .string(limit: limit), error: .string(limit: limit))
            return ProcessOutcome(status: code(result.terminationStatus), stdout: result.standardOutput, stderr: result.standardError, timedOut: false)
        }
        let result = try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(command.arguments), environment: environment,
            workingDirectory: directory, platformOptions: options, input: .none,
            output: .string(limit: limit), error: .string(limit: limit))
        return ProcessOutcome(status: code(result.terminationStatus), stdout: result.standardOutput, stderr: result.standardError, timedOut: false)
    }

    static func code(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// An absolute path as is; a bare name looked up on PATH.
    static func resolve(_ executable: String) -> String? {
        if executable.contains("/") { return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
