import Foundation
import KitbagCore
import TOMLKit

/// How a migration maps a source's items onto the target, read from `--map mapping.toml`:
///
///     title = "Company"            # source field (code or label) that titles every item, where the container has it
///     status = "Stage"             # source field whose value is the item's status
///     labels = "Tags"              # source field whose values become labels/tags
///     default_status = "Backlog"   # target status for items that have none
///
///     item_kind = "conversation"   # Kona: what items become, "task" or "conversation"
///
///     [statuses]                   # source status → target status (Kitemaker, Kona), box (Kinopio) or option (Kintone)
///     "Not started" = "Todo"
///
///     [fields]                     # Kintone: the label of a field kitbag derives (title, body, status, labels,
///     body = "Description"         # author, created, updated, attachments) or of a source field; the code
///     "Customer" = "Client"        # follows the label
///
///     [containers."1"]             # one source container, by id or title
///     target = "ACM"               # Kitemaker: the existing space (key or name); Kinopio/Kintone: the new name
///     title = "Customer"           # overrides the top-level keys for this container
///     statuses = { "Japan" = "Todo" }
///     skip = true                  # leave this container out (reported, not silently dropped)
///
/// Every key is optional; an unknown key or a value of the wrong type is an error naming the key.
public struct MappingConfig: Sendable, Equatable {
    /// Field choices and status renames for one container, or for all of them (the top level).
    public struct Rules: Sendable, Equatable {
        public var title: String?
        public var status: String?
        public var labels: String?
        public var defaultStatus: String?
        public var statuses: [String: String] = [:]
        /// Kona: `task` or `conversation`.
        public var itemKind: String?
        /// Kintone: derived role (`title`, `body`…) or source field → label of the field in the new app.
        public var fields: [String: String] = [:]

        public init(
            title: String? = nil, status: String? = nil, labels: String? = nil, defaultStatus: String? = nil,
            statuses: [String: String] = [:], itemKind: String? = nil, fields: [String: String] = [:]
        ) {
            self.title = title
            self.status = status
            self.labels = labels
            self.defaultStatus = defaultStatus
            self.statuses = statuses
            self.itemKind = itemKind
            self.fields = fields
        }
    }

    public struct Container: Sendable, Equatable {
        public var target: String?
        public var skip = false
        public var rules = Rules()

        public init(target: String? = nil, skip: Bool = false, rules: Rules = Rules()) {
            self.target = target
            self.skip = skip
            self.rules = rules
        }
    }

    public var rules = Rules()
    /// By source container id or title.
    public var containers: [String: Container] = [:]
    /// The file it was read from, for messages.
    public var fileName: String?

    public init(rules: Rules = Rules(), containers: [String: Container] = [:]) {
        self.rules = rules
        self.containers = containers
    }

    /// The entry for a container, by id first, then by title.
    public func container(id: String, title: String) -> Container? {
        containers[id] ?? containers[title]
    }

    /// The rules in force for a container: its own keys over the top-level ones; status renames merged.
    public func rules(id: String, title: String) -> Rules {
        guard let own = container(id: id, title: title)?.rules else { return rules }
        var r = rules
        r.title = own.title ?? r.title
        r.status = own.status ?? r.status
        r.labels = own.labels ?? r.labels
        r.defaultStatus = own.defaultStatus ?? r.defaultStatus
        r.itemKind = own.itemKind ?? r.itemKind
        r.statuses.merge(own.statuses) { _, mine in mine }
        r.fields.merge(own.fields) { _, mine in mine }
        return r
    }

    /// The target status (or box) for a source status, after the renames in force.
    public static func renamed(_ status: String, in rules: Rules) -> String {
        rules.statuses[status] ?? status
    }

    // MARK: Reading

    static let ruleKeys = ["title", "status", "labels", "default_status", "statuses", "item_kind", "fields"]
    /// The values `item_kind` takes.
    public static let itemKinds = ["task", "conversation"]
    static let topKeys = ruleKeys + ["containers"]
    static let containerKeys = ruleKeys + ["target", "skip"]

    /// Reads and checks `url`; every problem is one line naming the file and the key.
    public static func load(_ url: URL) throws -> MappingConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw UserError("\(url.path): cannot read the mapping file; check the path", exitStatus: .usage)
        }
        return try parse(text, fileName: url.lastPathComponent)
    }

    /// Parses mapping TOML; `fileName` prefixes every message.
    public static func parse(_ text: String, fileName: String = "mapping.toml") throws -> MappingConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw UserError(
                "\(fileName):\(error.source.begin.line):\(error.source.begin.column): \(error.description)",
                exitStatus: .usage)
        }
        func bad(_ key: String, _ problem: String) -> UserError {
            UserError("\(fileName): \(key) \(problem)", exitStatus: .usage)
        }
        func checkKeys(_ table: TOMLTable, allowed: [String], path: String) throws {
            for key in table.keys.sorted() where !allowed.contains(key) {
                throw bad(
                    path.isEmpty ? key : "\(path).\(key)",
                    "is not a mapping key (known: \(allowed.joined(separator: ", ")))")
            }
        }
        func string(_ table: TOMLTable, _ key: String, path: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string else { throw bad(path + key, "must be a string, e.g. \(key) = \"Name\"") }
            guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw bad(path + key, "must not be empty") }
            return s
        }
        func rules(_ table: TOMLTable, path: String) throws -> Rules {
            var r = Rules()
            r.title = try string(table, "title", path: path)
            r.status = try string(table, "status", path: path)
            r.labels = try string(table, "labels", path: path)
            r.defaultStatus = try string(table, "default_status", path: path)
            if let value = table["statuses"] {
                guard let statuses = value.table else {
                    throw bad(path + "statuses", "must be a table of \"source status\" = \"target status\"")
                }
                for key in statuses.keys {
                    guard let target = statuses[key]?.string, !target.isEmpty else {
                        throw bad("\(path)statuses.\"\(key)\"", "must be a non-empty string (the target status)")
                    }
                    r.statuses[key] = target
                }
            }
            r.itemKind = try string(table, "item_kind", path: path)
            if let kind = r.itemKind, !itemKinds.contains(kind) {
                throw bad(path + "item_kind", "must be \"task\" or \"conversation\", not \"\(kind)\"")
            }
            if let value = table["fields"] {
                guard let fields = value.table else {
                    throw bad(path + "fields", "must be a table of \"field or role\" = \"label\"")
                }
                for key in fields.keys {
                    guard let label = fields[key]?.string, !label.trimmingCharacters(in: .whitespaces).isEmpty else {
                        throw bad("\(path)fields.\"\(key)\"", "must be a non-empty string (the label in the target)")
                    }
                    r.fields[key] = label
                }
            }
            return r
        }
        try checkKeys(root, allowed: topKeys, path: "")
        var config = MappingConfig(rules: try rules(root, path: ""))
        config.fileName = fileName
        if let value = root["containers"] {
            guard let table = value.table else {
                throw bad("containers", "must be a table of [containers.\"SOURCE\"] sections")
            }
            for name in table.keys {
                let path = "containers.\"\(name)\""
                guard let section = table[name]?.table else { throw bad(path, "must be a table") }
                try checkKeys(section, allowed: containerKeys, path: path)
                var c = Container(rules: try rules(section, path: path + "."))
                c.target = try string(section, "target", path: path + ".")
                if let skip = section["skip"] {
                    guard let b = skip.bool else { throw bad(path + ".skip", "must be true or false") }
                    c.skip = b
                }
                config.containers[name] = c
            }
        }
        return config
    }
}
