import Foundation
import TOMLKit

/// Reads a TOML config file key by key, and treats every key nobody asked for as an error.
///
/// ```swift
/// let reader = try ConfigReader(path: "/etc/fieldmedic/agent.toml")
/// let url = try reader.string("coordinator.url") ?? "https://localhost:8443"
/// let interval = try reader.duration("report.interval", default: 60)
/// try reader.finish()   // unknown keys → ConfigError with file and line
/// ```
public final class ConfigReader {
    public let path: String
    private let root: TOMLTable
    private let lines: [[String]: Int]
    private var asked: Set<[String]> = []
    private var openTables: Set<[String]> = []
    /// The file's text, for the line numbers of `[[array]]` blocks (`tableArray`).
    private let text: String

    public convenience init(path: String) throws(ConfigError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read the file: \((error as NSError).localizedDescription)")
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String) throws(ConfigError) {
        self.path = path
        if let line = Self.headerWithoutKey(text) {
            throw ConfigError(file: path, line: line, message: "a table header must start with a key, e.g. [agents]")
        }
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: path, line: error.source.begin.line, message: "not valid TOML: \(error.description)")
        } catch {
            throw ConfigError(file: path, line: nil, message: "not valid TOML: \(error)")
        }
        lines = Self.indexLines(text)
        self.text = text
    }

    private init(path: String, root: TOMLTable, lines: [[String]: Int], text: String) {
        self.path = path
        self.root = root
        self.lines = lines
        self.text = text
    }

    /// The blocks of an array of tables (`[[notify]]`), each read by a reader of its own whose
    /// keys are the block's (`name`, not `notify.name`) and whose errors carry the block's
    /// lines. Call `finish()` on each to refuse unknown keys inside the block.
    public func tableArray(_ key: String) throws(ConfigError) -> [ConfigReader] {
        let components = Self.components(key)
        asked.insert(components)
        guard let value = lookup(components) else { return [] }
        guard let array = value.array else { throw fail(key, "\(key) must be written as [[\(key)]] blocks") }
        let header = "[[" + Self.display(components) + "]]"
        // Line numbers of each block: from its header to the next table header.
        var blocks: [[[String]: Int]] = []
        var current: [[String]: Int]?
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                if let current { blocks.append(current) }
                current = line.replacingOccurrences(of: " ", with: "") == header ? [[]: number + 1] : nil
            } else if current != nil, let equals = line.firstIndex(of: "=") {
                let name = Self.splitKey(String(line[..<equals]))
                if current![name] == nil { current![name] = number + 1 }
            }
        }
        if let current { blocks.append(current) }
        var readers: [ConfigReader] = []
        for (index, element) in array.enumerated() {
            guard let table = element.table else { throw fail(key, "\(key) must be written as [[\(key)]] blocks") }
            readers.append(ConfigReader(path: path, root: table, lines: index < blocks.count ? blocks[index] : [:], text: ""))
        }
        return readers
    }

    /// The line of a table header whose first character is not a key (`[#`, `[=`, `[ .`…).
    /// toml++ (under TOMLKit) asserts on those instead of reporting them: an abort in a debug
    /// build, undefined behaviour in a release one. Found by scripts/fuzz.sh; the inputs are
    /// in Fuzz/crashes/toml. (A line of a multi-line string or nested array that starts this
    /// way, a lone `[` included, is refused too: FieldMedic's configs have none.)
    static func headerWithoutKey(_ text: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            guard rest.first == "[" else { continue }
            rest = rest.dropFirst()
            if rest.first == "[" { rest = rest.dropFirst() }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let first = rest.first else { return index + 1 }
            let startsKey = first.isASCII && (first.isLetter || first.isNumber || first == "_" || first == "-" || first == "\"" || first == "'")
            if !startsKey && first != "]" { return index + 1 }
        }
        return nil
    }

    // MARK: typed getters

    public func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw fail(key, "\(key) must be a string in double quotes") }
        return text
    }

    public func string(_ key: String, default fallback: String) throws(ConfigError) -> String {
        try string(key) ?? fallback
    }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        guard let value = value(key) else { return fallback }
        guard let number = value.int else { throw fail(key, "\(key) must be a whole number, e.g. \(key.split(separator: ".").last!) = \(fallback)") }
        if let range, !range.contains(number) {
            throw fail(key, "\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
        }
        return number
    }

    public func double(_ key: String, default fallback: Double, range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        guard let value = value(key) else { return fallback }
        guard let number = value.double ?? value.int.map(Double.init) else { throw fail(key, "\(key) must be a number, e.g. \(fallback)") }
        if let range, !range.contains(number) {
            throw fail(key, "\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
        }
        return number
    }

    public func bool(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = value(key) else { return fallback }
        guard let flag = value.bool else { throw fail(key, "\(key) must be true or false (no quotes)") }
        return flag
    }

    /// No duration in a config file is longer than this (ten years): past it, dates overflow
    /// and certificates cannot be made.
    public static let longestDuration: TimeInterval = 3650 * 86_400

    /// A duration written as a string: `"90s"`, `"5m"`, `"1h"`, `"7d"`, between `minimum`
    /// and `maximum`.
    public func duration(
        _ key: String, default fallback: TimeInterval, minimum: TimeInterval = 0, maximum: TimeInterval = ConfigReader.longestDuration
    ) throws(ConfigError) -> TimeInterval {
        guard let value = value(key) else { return fallback }
        guard let text = value.string, let seconds = DurationText.parse(text), seconds.isFinite else {
            throw fail(key, "\(key) must be a duration string such as \"90s\", \"5m\", \"1h\" or \"7d\"")
        }
        if seconds < minimum {
            throw fail(key, "\(key) must be at least \"\(DurationText.format(minimum))\", not \"\(text)\"")
        }
        if seconds > maximum {
            throw fail(key, "\(key) must be at most \"\(DurationText.format(maximum))\", not \"\(text)\"")
        }
        return seconds
    }

    public func stringArray(_ key: String, default fallback: [String]) throws(ConfigError) -> [String] {
        guard let value = value(key) else { return fallback }
        guard let array = value.array else { throw fail(key, "\(key) must be a list of strings, e.g. [\"a\", \"b\"]") }
        var out: [String] = []
        for element in array {
            guard let text = element.string else { throw fail(key, "\(key) must be a list of strings, e.g. [\"a\", \"b\"]") }
            out.append(text)
        }
        return out
    }

    /// The names of the sub-tables under `key` (e.g. the finding codes under `playbook`).
    /// Their own keys are still checked: ask for them with `string([...])`-style paths.
    public func subtableNames(_ key: String) -> [String] {
        let components = Self.components(key)
        asked.insert(components)
        openTables.insert(components)
        guard let table = lookup(components)?.table else { return [] }
        return table.keys.filter { table[$0]?.table != nil }
    }

    /// The names of the plain values under `key` (e.g. the alert names of a mapping table);
    /// read each with `string(path:)`.
    public func valueNames(_ key: String) -> [String] {
        let components = Self.components(key)
        for i in 1...components.count { asked.insert(Array(components.prefix(i))) }
        guard let table = lookup(components)?.table else { return [] }
        return table.keys.filter { table[$0]?.table == nil }.sorted()
    }

    /// Whether `key` (a value or a table) is present, without marking it as read.
    public func contains(_ key: String) -> Bool {
        lookup(Self.components(key)) != nil
    }

    /// Key paths for sub-tables whose names contain dots: `["playbook", "disk.high", "policy"]`.
    public func string(path: [String]) throws(ConfigError) -> String? {
        try string(Self.display(path))
    }

    /// An error located at `key`'s line, for values that parse but make no sense.
    public func fail(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: path, line: line(of: Self.components(key)), message: message)
    }

    /// Rejects every key that no getter asked for.
    public func finish() throws(ConfigError) {
        var unknown: [([String], Int)] = []
        collectUnknown(root, prefix: [], into: &unknown)
        guard let first = unknown.min(by: { $0.1 < $1.1 }) else { return }
        let section = Array(first.0.dropLast())
        let known = asked.filter { $0.count == section.count + 1 && Array($0.dropLast()) == section }
            .map { $0.last! }.sorted()
        var message = "unknown key \"\(Self.display(first.0))\""
        if !known.isEmpty {
            message += section.isEmpty
                ? "; top-level keys are: \(known.joined(separator: ", "))"
                : "; keys in [\(Self.display(section))] are: \(known.joined(separator: ", "))"
        }
        if unknown.count > 1 { message += " (and \(unknown.count - 1) more unknown)" }
        throw ConfigError(file: path, line: first.1 == Int.max ? nil : first.1, message: message)
    }

    // MARK: internals

    private func value(_ key: String) -> (any TOMLValueConvertible)? {
        let components = Self.components(key)
        asked.insert(components)
        for i in 1..<components.count { asked.insert(Array(components.prefix(i))) }
        return lookup(components)
    }

    private func lookup(_ components: [String]) -> (any TOMLValueConvertible)? {
        var table = root
        for (index, component) in components.enumerated() {
            guard let next = table[component] else { return nil }
            if index == components.count - 1 { return next }
            guard let nested = next.table else { return nil }
            table = nested
        }
        return nil
    }

    private func collectUnknown(_ table: TOMLTable, prefix: [String], into unknown: inout [([String], Int)]) {
        for key in table.keys {
            let path = prefix + [key]
            if let nested = table[key]?.table, asked.contains(path) || openTables.contains(prefix) {
                collectUnknown(nested, prefix: path, into: &unknown)
            } else if !asked.contains(path) || table[key]?.table != nil {
                unknown.append((path, line(of: path) ?? Int.max))
            }
        }
    }

    private func line(of components: [String]) -> Int? {
        var probe = components
        while !probe.isEmpty {
            if let line = lines[probe] { return line }
            probe.removeLast()
        }
        return lines[[]]
    }

    static func components(_ key: String) -> [String] {
        splitKey(key)
    }

    public static func display(_ components: [String]) -> String {
        components.map { $0.contains(".") || $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: ".")
    }

    /// Splits `a."b.c".d` into ["a", "b.c", "d"].
    static func splitKey(_ key: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for ch in key {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "." {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }

    /// Maps each table header and `key =` line to its 1-based line number.
    static func indexLines(_ text: String) -> [[String]: Int] {
        var index: [[String]: Int] = [:]
        var section: [String] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let inner = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                section = splitKey(inner)
                if index[section] == nil { index[section] = number + 1 }
            } else if let equals = line.firstIndex(of: "=") {
                let key = section + splitKey(String(line[..<equals]))
                if index[key] == nil { index[key] = number + 1 }
            }
        }
        return index
    }

    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        for (offset, ch) in line.enumerated() {
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "#" {
                return String(line.prefix(offset))
            }
        }
        return line
    }
}
