import Foundation
import KitbagCore
import KitbagHTTP

/// Kintone's wire facts that more than one file of the connector needs (seeds/kintone-api.txt, api-facts.md).
public enum KintoneSchema {
    /// `https://{subdomain}.kintone.com`; there is no shared public host, so the base URL is always required.
    public static let baseURLVariable = "KINTONE_BASE_URL"
    /// One or more API tokens, comma-separated (`X-Cybozu-API-Token`).
    public static let apiTokenVariable = "KINTONE_API_TOKEN"
    /// Password authentication (`X-Cybozu-Authorization: base64(login:password)`).
    public static let usernameVariable = "KINTONE_USERNAME"
    public static let passwordVariable = "KINTONE_PASSWORD"
    /// Files holding the token list or the password (first line), so no secret sits on a command line.
    public static let apiTokenFileVariable = "KINTONE_API_TOKEN_FILE"
    public static let passwordFileVariable = "KINTONE_PASSWORD_FILE"
    /// Basic authentication in front of the domain (cli-kintone's names).
    public static let basicAuthUserVariable = "KINTONE_BASIC_AUTH_USERNAME"
    public static let basicAuthPasswordVariable = "KINTONE_BASIC_AUTH_PASSWORD"
    public static let basicAuthPasswordFileVariable = "KINTONE_BASIC_AUTH_PASSWORD_FILE"
    /// A client certificate (PKCS #12) and its password (cli-kintone's names).
    public static let pfxFileVariable = "KINTONE_PFX_FILE_PATH"
    public static let pfxPasswordVariable = "KINTONE_PFX_FILE_PASSWORD"
    public static let pfxPasswordFileVariable = "KINTONE_PFX_FILE_PASSWORD_FILE"
    /// An HTTP(S) proxy for https domains, as cli-kintone reads it (`NO_PROXY` honoured).
    public static let proxyVariable = "HTTPS_PROXY"
    /// A proxy for this domain whatever its scheme (--proxy); wins over `HTTPS_PROXY`.
    public static let proxySettingVariable = "KINTONE_PROXY"
    /// The apps a run covers when no `--app` is given (`6,9`; a profile's `apps = [...]` sets it).
    public static let appsVariable = "KINTONE_APPS"
    /// Seconds one request may take before it is abandoned (and retried).
    public static let timeoutVariable = "KINTONE_TIMEOUT"

    /// API tokens in one request (kintone.dev "API tokens": 10 or more is refused).
    static let maxTokensPerRequest = 9

    /// Records per `GET records.json` page or cursor read (the documented maximum).
    static let readPageSize = 500
    /// Records per write request and requests per `bulkRequest.json` (documented maxima).
    static let writeBatchSize = 100
    static let bulkRequestsPerCall = 20
    /// Comments per `GET record/comments.json` (documented maximum).
    static let commentPageSize = 10
    /// Apps per `GET apps.json` (documented maximum).
    static let appPageSize = 100
    /// An uploaded file not attached within 3 days is deleted; kitbag re-uploads after 2½ days to stay clear of it.
    static let uploadLifetime: TimeInterval = 2.5 * 24 * 3600
    /// A GET whose query is longer than this goes as POST with `X-HTTP-Method-Override: GET`.
    static let maxQueryLength = 3500

    static let appContainer = "apps"
    static let spaceContainer = "spaces"
    static func container(app id: String) -> ContainerRef { ContainerRef(kind: appContainer, id: id) }
    static func container(space id: String) -> ContainerRef { ContainerRef(kind: spaceContainer, id: id) }

    /// One app settings document: where it is read, where it is written, and its archive file (kind = file).
    struct Setting: Sendable, Equatable {
        /// Path below `/k/v1/` of the live GET (e.g. `app/form/fields.json`).
        var readPath: String
        /// Path below `/k/v1/` of the write, nil when kitbag does not write it.
        var writePath: String?
        var file: String
        /// Whether the seed page lists the write under `preview/` (all of them are applied by a deploy in Kintone).
        var preview: Bool
    }

    static let formFields = Setting(
        readPath: "app/form/fields.json", writePath: "preview/app/form/fields.json", file: "formFields", preview: true)
    static let formLayout = Setting(
        readPath: "app/form/layout.json", writePath: "preview/app/form/layout.json", file: "formLayout", preview: true)
    static let generalSettings = Setting(
        readPath: "app/settings.json", writePath: "preview/app/settings.json", file: "generalSettings", preview: true)
    static let views = Setting(readPath: "app/views.json", writePath: "preview/app/views.json", file: "views", preview: true)
    static let processManagement = Setting(
        readPath: "app/status.json", writePath: "preview/app/status.json", file: "processManagement", preview: true)
    static let customization = Setting(
        readPath: "app/customize.json", writePath: "preview/app/customize.json", file: "customization", preview: true)
    static let generalNotifications = Setting(
        readPath: "app/notifications/general.json", writePath: "preview/app/notifications/general.json",
        file: "generalNotifications", preview: true)
    static let perRecordNotifications = Setting(
        readPath: "app/notifications/perRecord.json", writePath: "preview/app/notifications/perRecord.json",
        file: "perRecordNotifications", preview: true)
    static let reminderNotifications = Setting(
        readPath: "app/notifications/reminder.json", writePath: "preview/app/notifications/reminder.json",
        file: "reminderNotifications", preview: true)
    static let graphs = Setting(readPath: "app/reports.json", writePath: "preview/app/reports.json", file: "graphs", preview: true)
    static let actions = Setting(
        readPath: "app/actions.json", writePath: "preview/app/actions.json", file: "actions", preview: true)
    // The seed page lists these writes on the live paths, but a live-path permission write deploys every pending
    // preview setting of the app; the SDK writes all five through `preview/` (kintone/js-sdk
    // packages/rest-api-client/src/client/AppClient.ts, commit 003b2770: updateAppAcl, updateRecordAcl,
    // updateFieldAcl, updateAdminNotes, addPlugins), and so does kitbag, before its one deploy.
    static let appPermissions = Setting(
        readPath: "app/acl.json", writePath: "preview/app/acl.json", file: "appPermissions", preview: true)
    static let recordPermissions = Setting(
        readPath: "record/acl.json", writePath: "preview/record/acl.json", file: "recordPermissions", preview: true)
    static let fieldPermissions = Setting(
        readPath: "field/acl.json", writePath: "preview/field/acl.json", file: "fieldPermissions", preview: true)
    static let adminNotes = Setting(
        readPath: "app/adminNotes.json", writePath: "preview/app/adminNotes.json", file: "adminNotes", preview: true)
    static let plugins = Setting(
        readPath: "app/plugins.json", writePath: "preview/app/plugins.json", file: "plugins", preview: true)

    /// Every settings document an export reads, in archive order.
    static let settings: [Setting] = [
        generalSettings, formFields, formLayout, views, processManagement, appPermissions, recordPermissions,
        fieldPermissions, generalNotifications, perRecordNotifications, reminderNotifications, graphs, actions,
        adminNotes, plugins, customization,
    ]

    /// Field types whose values the server sets; never written on import.
    static let serverFieldTypes: Set<String> = [
        "RECORD_NUMBER", "__ID__", "__REVISION__", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "STATUS",
        "STATUS_ASSIGNEE", "CATEGORY", "CALC",
    ]
    /// Field types every app has from birth; an import renames them rather than adding them.
    static let builtInFieldTypes: Set<String> = [
        "RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "STATUS", "STATUS_ASSIGNEE", "CATEGORY",
    ]
    /// Form elements that are not fields of the record (layout only) or never returned in a record.
    static let layoutOnlyFieldTypes: Set<String> = ["LABEL", "SPACER", "HR", "GROUP", "REFERENCE_TABLE"]

    /// Numeric ids sort as numbers, anything else after them as text.
    static func idLess(_ a: String, _ b: String) -> Bool {
        switch (Int(a), Int(b)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }

    /// The FILE values of a record, top level and inside subtable rows, with a path that names each one.
    static func fileValues(of record: JSONValue) -> [(path: String, file: JSONValue)] {
        var out: [(String, JSONValue)] = []
        guard let fields = record.objectValue else { return [] }
        for (code, field) in fields {
            switch field["type"]?.stringValue {
            case "FILE":
                for (i, f) in (field["value"]?.arrayValue ?? []).enumerated() { out.append(("\(code)/\(i)", f)) }
            case "SUBTABLE":
                for (r, row) in (field["value"]?.arrayValue ?? []).enumerated() {
                    for (inner, cell) in row["value"]?.objectValue ?? JSONObject() where cell["type"]?.stringValue == "FILE" {
                        for (i, f) in (cell["value"]?.arrayValue ?? []).enumerated() {
                            out.append(("\(code)/\(r)/\(inner)/\(i)", f))
                        }
                    }
                }
            default: continue
            }
        }
        return out
    }

    /// Applies `transform` to every FILE value object of a record (top level and in subtables), in the order of
    /// `fileValues(of:)`.
    static func mapFiles(_ record: JSONValue, _ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONValue {
        guard var fields = record.objectValue else { return record }
        for code in fields.keys {
            guard var field = fields[code] else { continue }
            switch field["type"]?.stringValue {
            case "FILE":
                field["value"] = .array(try (field["value"]?.arrayValue ?? []).map(transform))
            case "SUBTABLE":
                var rows = field["value"]?.arrayValue ?? []
                for r in rows.indices {
                    guard var cells = rows[r]["value"]?.objectValue else { continue }
                    for inner in cells.keys where cells[inner]?["type"]?.stringValue == "FILE" {
                        var cell = cells[inner]!
                        cell["value"] = .array(try (cell["value"]?.arrayValue ?? []).map(transform))
                        cells[inner] = cell
                    }
                    rows[r]["value"] = .object(cells)
                }
                field["value"] = .array(rows)
            default: continue
            }
            fields[code] = field
        }
        return .object(fields)
    }
}
