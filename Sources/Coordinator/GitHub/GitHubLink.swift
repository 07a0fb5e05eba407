import Foundation

/// GitHub's pagination header: `Link: <https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`.
enum GitHubLink {
    /// Every link of the header by its relation ("next", "last", "prev", "first").
    static func parse(_ header: String?) -> [String: String] {
        guard let header else { return [:] }
        var links: [String: String] = [:]
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
            let url = String(target.dropFirst().dropLast())
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2, pair[0].lowercased() == "rel" else { continue }
                // rel may name several relations: rel="next last"
                for relation in pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: " ") {
                    links[relation.lowercased()] = url
                }
            }
        }
        return links
    }

    static func next(_ header: String?) -> String? { parse(header)["next"] }
}
