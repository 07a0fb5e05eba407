import Foundation

/// An issue as the REST API and the `issues` / `issue_comment` webhooks describe it, reduced to
/// what the ticket loop reads.
///
/// It decodes GitHub's own JSON (`user.login`, label objects, `html_url`, ISO 8601 dates) and
/// encodes back into the same shape, so a stored copy decodes with the same code.
struct GitHubIssue: Sendable, Equatable, Codable {
    var number: Int
    var title: String
    var body: String?
    /// "open" or "closed".
    var state: String
    /// "completed", "not_planned", "duplicate", "reopened" or nil.
    var stateReason: String?
    var labels: [String]
    var author: String
    var htmlURL: String
    var createdAt: Date
    var updatedAt: Date
    /// The issues endpoints list pull requests too; they carry a `pull_request` key.
    var isPullRequest: Bool

    init(
        number: Int, title: String, body: String?, state: String, stateReason: String?, labels: [String], author: String,
        htmlURL: String, createdAt: Date, updatedAt: Date, isPullRequest: Bool = false
    ) {
        self.number = number
        self.title = title
        self.body = body
        self.state = state
        self.stateReason = stateReason
        self.labels = labels
        self.author = author
        self.htmlURL = htmlURL
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.isPullRequest = isPullRequest
    }

    var isOpen: Bool { state == "open" }

    private enum CodingKeys: String, CodingKey {
        case number, title, body, state, labels, user
        case stateReason = "state_reason"
        case htmlURL = "html_url"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case pullRequest = "pull_request"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        number = try c.decode(Int.self, forKey: .number)
        title = try c.decode(String.self, forKey: .title)
        body = try c.decodeIfPresent(String.self, forKey: .body)
        state = try c.decode(String.self, forKey: .state)
        stateReason = try c.decodeIfPresent(String.self, forKey: .stateReason)
        labels = try c.decodeIfPresent([GitHubLabelName].self, forKey: .labels)?.map(\.name) ?? []
        author = try c.decode(GitHubUserLogin.self, forKey: .user).login
        htmlURL = try c.decode(String.self, forKey: .htmlURL)
        createdAt = try GitHubDate.decode(from: c, forKey: .createdAt)
        updatedAt = try GitHubDate.decode(from: c, forKey: .updatedAt)
        // `pull_request` is absent on issues; a null value also means "not a pull request".
        isPullRequest = c.contains(.pullRequest) && (try? c.decodeNil(forKey: .pullRequest)) == false
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(title, forKey: .title)
        try c.encode(body, forKey: .body)
        try c.encode(state, forKey: .state)
        try c.encode(stateReason, forKey: .stateReason)
        try c.encode(labels.map { GitHubLabelName(name: $0) }, forKey: .labels)
        try c.encode(GitHubUserLogin(login: author), forKey: .user)
        try c.encode(htmlURL, forKey: .htmlURL)
        try c.encode(GitHubDate.format(createdAt), forKey: .createdAt)
        try c.encode(GitHubDate.format(updatedAt), forKey: .updatedAt)
        if isPullRequest { try c.encode([String: String](), forKey: .pullRequest) }
    }
}

/// A comment on an issue (`issue-comment` schema, and the webhook's `comment`).
struct GitHubComment: Sendable, Equatable, Codable {
    var id: Int64
    var body: String
    var author: String
    /// "OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "NONE", … Informational only: approvals
    /// are checked against the configured users and the repository permission.
    var authorAssociation: String?
    var createdAt: Date
    var updatedAt: Date
    var htmlURL: String

    init(id: Int64, body: String, author: String, authorAssociation: String?, createdAt: Date, updatedAt: Date, htmlURL: String) {
        self.id = id
        self.body = body
        self.author = author
        self.authorAssociation = authorAssociation
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.htmlURL = htmlURL
    }

    /// GitHub moves `updated_at` when the text is edited; an edited comment never counts as
    /// an approval.
    var wasEdited: Bool { updatedAt > createdAt }

    private enum CodingKeys: String, CodingKey {
        case id, body, user
        case authorAssociation = "author_association"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case htmlURL = "html_url"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        body = try c.decodeIfPresent(String.self, forKey: .body) ?? ""
        author = try c.decode(GitHubUserLogin.self, forKey: .user).login
        authorAssociation = try c.decodeIfPresent(String.self, forKey: .authorAssociation)
        createdAt = try GitHubDate.decode(from: c, forKey: .createdAt)
        updatedAt = try GitHubDate.decode(from: c, forKey: .updatedAt)
        htmlURL = try c.decode(String.self, forKey: .htmlURL)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(body, forKey: .body)
        try c.encode(GitHubUserLogin(login: author), forKey: .user)
        try c.encode(authorAssociation, forKey: .authorAssociation)
        try c.encode(GitHubDate.format(createdAt), forKey: .createdAt)
        try c.encode(GitHubDate.format(updatedAt), forKey: .updatedAt)
        try c.encode(htmlURL, forKey: .htmlURL)
    }
}

/// The answer of one issue poll.
enum GitHubPoll: Sendable {
    /// The list has not changed since the ETag given (GitHub does not count this against the rate limit).
    case notModified
    /// Issues updated since the time asked for, oldest update first, pull requests removed;
    /// `etag` is what to send next time (nil when the list took several pages).
    case issues([GitHubIssue], etag: String?)
}

/// `user` objects: only the login matters.
struct GitHubUserLogin: Codable, Sendable {
    var login: String
}

/// A label in an issue's `labels`: an object with `name`, or (in some payloads) a bare string.
struct GitHubLabelName: Codable, Sendable {
    var name: String

    init(name: String) { self.name = name }

    private enum CodingKeys: String, CodingKey { case name }

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            name = text
            return
        }
        name = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .name)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
    }
}

/// GitHub's timestamps: ISO 8601 in UTC, `2011-04-14T16:00:49Z` (fractions tolerated).
enum GitHubDate {
    static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Reads a date written as GitHub's string or, for copies someone stored with another
    /// encoder, in that decoder's own date form.
    static func decode<K: CodingKey>(from container: KeyedDecodingContainer<K>, forKey key: K) throws -> Date {
        if let text = try? container.decode(String.self, forKey: key) {
            guard let date = parse(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "\(key.stringValue) is not an ISO 8601 time: \(text)")
            }
            return date
        }
        return try container.decode(Date.self, forKey: key)
    }
}
