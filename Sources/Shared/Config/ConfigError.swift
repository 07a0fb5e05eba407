/// A configuration problem, located at file and line, saying what to write instead.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "configuration error: \(file):\(line): \(message)" }
        return "configuration error: \(file): \(message)"
    }
}
