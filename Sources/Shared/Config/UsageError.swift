import Foundation
import Logging

/// A mistake in how a command was called (exit code 2), as opposed to something that went
/// wrong while doing it (exit code 1).
public struct UsageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Operational failure with an operator-facing message (exit code 1).
public struct OperationalError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// FieldMedic's exit codes: 0 success, 1 operational failure, 2 usage or configuration error.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2

    public static func code(for error: any Error) -> Int32 {
        switch error {
        case is ConfigError, is UsageError, is JoinTokenError: return usage
        default: return failure
        }
    }

    /// Logs go to stderr as plain lines (journald adds time and unit). The level comes from
    /// FIELDMEDIC_LOG_LEVEL (trace, debug, info, notice, warning, error), default info.
    public static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["FIELDMEDIC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
