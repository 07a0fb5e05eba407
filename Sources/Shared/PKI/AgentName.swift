/// Agent names: what `agents add NAME` accepts and what the SAN URI carries.
public enum AgentName {
    public static let uriPrefix = "fieldmedic://agent/"

    public static func validate(_ name: String) throws(PKIError) {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { throw .invalidAgentName(name) }
        func allowed(_ b: UInt8, first: Bool) -> Bool {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"): return !first
            default: return false
            }
        }
        for (index, b) in bytes.enumerated() where !allowed(b, first: index == 0) {
            throw .invalidAgentName(name)
        }
    }

    public static func uri(for name: String) -> String { uriPrefix + name }

    /// The agent name in a `fieldmedic://agent/NAME` URI, or nil for anything else.
    public static func name(fromURI uri: String) -> String? {
        guard uri.hasPrefix(uriPrefix) else { return nil }
        let name = String(uri.dropFirst(uriPrefix.count))
        return (try? validate(name)) == nil ? nil : name
    }
}
