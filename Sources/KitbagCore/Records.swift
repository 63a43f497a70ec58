import Foundation

/// `kitbag.json`, the first entry of every archive: what this archive is and where it came from.
/// It never holds a secret.
public struct ArchiveInfo: Codable, Sendable, Equatable {
    public var format: String = "kitbag-archive"
    public var formatVersion: Int = 1
    public var kitbagVersion: String = Kitbag.version
    public var service: ServiceName
    public var source: Source
    /// When the export started; also the mtime of every entry in the archive.
    public var startedAt: String
    /// Renderings present besides the JSON Lines (`markdown`, `rss`, `canvas`).
    public var renderings: [String]

    public struct Source: Codable, Sendable, Equatable {
        public var baseURL: String
        public var account: Account
        public init(baseURL: String, account: Account) {
            self.baseURL = baseURL
            self.account = account
        }
    }

    public struct Account: Codable, Sendable, Equatable {
        public var id: String
        public var name: String?
        public init(id: String, name: String? = nil) {
            self.id = id
            self.name = name
        }
    }

    public init(service: ServiceName, source: Source, startedAt: Date, renderings: [String] = []) {
        self.service = service
        self.source = source
        self.startedAt = Timestamp.string(startedAt)
        self.renderings = renderings
    }
}

/// `manifest.json`, the last entry of a whole archive: every other entry with its size and
/// SHA-256, entity counts per kind, and what could not be exported. Without it an archive is incomplete.
public struct Manifest: Codable, Sendable, Equatable {
    public var format: String = "kitbag-archive"
    public var formatVersion: Int = 1
    public var service: ServiceName
    public var entries: [Entry]
    /// Entity count per kind, summed over all JSON Lines entries.
    public var counts: [String: Int]
    public var notExported: [NotExported]
    public var finishedAt: String

    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
        /// For JSON Lines entries: the entity kind and the number of lines.
        public var kind: String?
        public var count: Int?

        public init(path: String, size: Int64, sha256: String, kind: String? = nil, count: Int? = nil) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.kind = kind
            self.count = count
        }
    }

    public init(
        service: ServiceName, entries: [Entry], counts: [String: Int], notExported: [NotExported], finishedAt: Date
    ) {
        self.service = service
        self.entries = entries
        self.counts = counts
        self.notExported = notExported
        self.finishedAt = Timestamp.string(finishedAt)
    }
}

/// Something the API could not reach, listed in the manifest instead of being skipped silently.
public struct NotExported: Codable, Sendable, Equatable, Hashable {
    /// Entity kind or area, e.g. `notification`, `comment`.
    public var kind: String
    /// Container it belongs to, when it is specific to one.
    public var container: String?
    public var reason: String

    public init(kind: String, container: String? = nil, reason: String) {
        self.kind = kind
        self.container = container
        self.reason = reason
    }
}
