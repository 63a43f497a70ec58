import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kintone in migrations: a Kintone archive read into the common model. Each app is a container; its records are
/// items titled by the app's title field, with the process-management status as status, categories as labels,
/// the creator and times as author and dates, files as attachments and the other fields as named values.
public enum KintoneMigration {
    /// Field types whose values the common model carries as attributes of their own (author, dates, status,
    /// labels, attachments), so they are not carried a second time as fields.
    static let attributeFieldTypes: Set<String> = ["CREATOR", "CREATED_TIME", "UPDATED_TIME", "STATUS", "CATEGORY", "FILE"]

    public static let source = MigrationSource(service: .kintone) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        var out: [MigrationContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "app" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func values(_ file: String) throws -> [JSONValue] {
                let path = "\(folder)/\(file).jsonl"
                return present.contains(path) ? try archive.values(at: path) : []
            }
            for app in try archive.values(at: entry.path) {
                var settings: [String: JSONValue] = [:]
                for file in ["formFields", "formLayout", "generalSettings"] { settings[file] = try values(file).first }
                var comments: [String: [JSONValue]] = [:]
                for c in try values("comments") {
                    if let record = c["recordId"]?.idString { comments[record, default: []].append(c) }
                }
                var readable = KintoneReadable.container(
                    app: app, settings: settings, records: try values("records"), comments: comments,
                    webBase: archive.info.source.baseURL, guestSpaceID: nil)
                let carriedElsewhere = Set(readable.fields.filter { attributeFieldTypes.contains($0.type) }.map(\.label))
                readable.fields.removeAll { carriedElsewhere.contains($0.label) }
                for i in readable.items.indices {
                    readable.items[i].fields.removeAll { carriedElsewhere.contains($0.name) }
                    readable.items[i].url = nil
                }
                let titleCode = KintoneReadable.titleField(settings["generalSettings"], fields: readable.fields)
                let titleLabel = readable.fields.first { $0.code == titleCode }?.label
                // Settings the common model has no place for, present in the archive.
                var kept: [String] = []
                for file in KintoneSchema.settings.map(\.file)
                where !["formFields", "formLayout", "generalSettings"].contains(file) && present.contains("\(folder)/\(file).jsonl") {
                    if let doc = try values(file).first, !isEmptySetting(file, doc) { kept.append(file) }
                }
                var losses: [MigrationLoss] = []
                if !kept.isEmpty {
                    losses.append(
                        MigrationLoss(
                            attribute: "app settings (\(kept.joined(separator: ", ")))", items: kept.count,
                            reason: "views, process management, notifications, permissions and customizations are Kintone's own; they stay in the archive"))
                }
                out.append(MigrationContainer(readable: readable, titleField: titleLabel, losses: losses))
            }
        }
        return out.sorted { (Int($0.readable.id) ?? 0, $0.readable.id) < (Int($1.readable.id) ?? 0, $1.readable.id) }
    }

    /// True when a settings document holds nothing of its own: no views, rules, notifications, graphs, actions,
    /// notes, plug-ins or files, and process management off.
    static func isEmptySetting(_ file: String, _ doc: JSONValue) -> Bool {
        func empty(_ v: JSONValue?) -> Bool {
            guard let v else { return true }
            if v.isNull { return true }
            if let s = v.stringValue { return s.isEmpty }
            if let a = v.arrayValue { return a.isEmpty }
            if let o = v.objectValue { return o.allSatisfy { empty($0.value) } }
            return false
        }
        switch file {
        case "processManagement": return doc["enable"]?.boolValue != true
        case "customization":
            return ["desktop", "mobile"].allSatisfy { p in ["js", "css"].allSatisfy { empty(doc[p]?[$0]) } }
        case "views": return empty(doc["views"])
        case "graphs": return empty(doc["reports"])
        case "actions": return empty(doc["actions"])
        case "adminNotes": return empty(doc["content"])
        case "plugins": return empty(doc["plugins"])
        case "appPermissions", "recordPermissions", "fieldPermissions": return empty(doc["rights"])
        case "generalNotifications", "perRecordNotifications", "reminderNotifications": return empty(doc["notifications"])
        default: return false
        }
    }
}
