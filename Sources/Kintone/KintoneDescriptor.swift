import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

extension RateLimit {
    /// Kintone: 100 concurrent requests per domain and no per-second limit. kitbag takes a quarter of the domain's
    /// limit (`X-ConcurrencyLimit-Limit` when the server reports one), leaves room for the other integrations it sees
    /// running (`X-ConcurrencyLimit-Running`), and backs off on 429 (`GAIA_TO04`), 5xx and slow answers.
    public static let kintone = RateLimit(
        requestsPerSecond: .infinity, maxConcurrent: 25,
        adaptive: ConcurrencyAdaptation(initial: 8, domainLimit: 100, share: 0.25))
}

extension ConnectorDescriptor {
    /// Kintone: apps of records, API tokens or a login, and the connection options cli-kintone offers.
    public static let kintone = ConnectorDescriptor(
        service: .kintone, displayName: "Kintone", defaultLimits: .kintone,
        credentialHelp: [
            "\(KintoneSchema.apiTokenVariable) (t1,t2,… one per app; tokens need --app or \(KintoneSchema.appsVariable)), or \(KintoneSchema.usernameVariable) +",
            "\(KintoneSchema.passwordVariable); each secret also as a file: --api-token-file, --password-file (or the",
            "variable with _FILE); KINTONE_BASIC_AUTH_USERNAME/_PASSWORD, KINTONE_PFX_FILE_PATH/_PASSWORD,",
            "\(KintoneSchema.proxySettingVariable) (else \(KintoneSchema.proxyVariable)), \(KintoneSchema.timeoutVariable); \(KintoneSchema.baseURLVariable)",
        ],
        options: KintoneOptions.all, profileVariables: ["apps": KintoneSchema.appsVariable], acceptsMigrations: true, restores: true,
        rendering: KintoneRendering.source, migration: KintoneMigration.source,
        roundTrip: KintoneRoundTrip.rules,
        sandboxEnvironment: { url, credential, login in
            // A login when the sandbox has one: API tokens cannot list or create apps, which a demo does.
            var environment = [KintoneSchema.baseURLVariable: url.absoluteString]
            if let login {
                environment[KintoneSchema.usernameVariable] = login
                environment[KintoneSchema.passwordVariable] = credential
            } else {
                environment[KintoneSchema.apiTokenVariable] = credential
            }
            return environment
        },
        make: { s in
            var connection = try KintoneConnection(
                baseURL: s.baseURL, environment: s.environment, guestSpaceID: s.options.value("guest-space"),
                rateLimit: s.rateLimit, concurrency: s.concurrency, retry: s.retry, logger: s.logger, progress: s.progress)
            let o = s.options
            if o.has("query") || o.has("order-by") || o.has("fields") {
                connection.recordFilter = KintoneRecordFilter(condition: o.value("query"), orderBy: o.value("order-by"), fields: o["fields"])
            }
            return connection
        })
}

/// Kintone's own options (cli-kintone offers the same): the guest space, the apps, a partial export, imports into
/// existing apps, and connection settings that each set the environment variable named in their help — which a
/// config profile's `[credentials]` may also set. Secrets come from files, never from the command line.
enum KintoneOptions {
    static let all: [ServiceOption] = [
        ServiceOption(
            "app", valueName: "ID", help: "Export or back up only this app (repeatable).", arity: .repeated,
            role: .selection, commands: [.export, .backup]),
        ServiceOption(
            "guest-space", valueName: "ID", help: "Reach apps in this guest space (/k/guest/ID/v1/).",
            profileKey: "guest_space"),
        ServiceOption(
            "query", valueName: "QUERY",
            help: "Only records matching this query condition, like 'Status in (\"Open\")' (a partial export).",
            commands: [.export]),
        ServiceOption("order-by", valueName: "ORDER", help: "Read records in this order, like 'Updated_datetime desc'.", commands: [.export]),
        ServiceOption(
            "fields", valueName: "CODES", help: "Only these field codes, comma-separated or repeated (a partial export).",
            arity: .repeated, commands: [.export]),
        ServiceOption(
            "app-map", valueName: "SRC=DST", help: "Import app SRC into the existing app DST instead of a new app (repeatable).",
            arity: .repeated, role: .containerMap, commands: [.importArchive]),
        ServiceOption(
            "update-key", valueName: "FIELD", help: "Upsert records by this unique field (like cli-kintone), with --app-map.",
            role: .updateKey, commands: [.importArchive], requires: "app-map"),
        ServiceOption(
            "api-token-file", valueName: "FILE",
            help: "Read the API tokens (t1,t2, first line) from this file (\(KintoneSchema.apiTokenFileVariable)).",
            variable: KintoneSchema.apiTokenFileVariable),
        ServiceOption(
            "password-file", valueName: "FILE",
            help: "Read the login's password from this file (\(KintoneSchema.passwordFileVariable)).",
            variable: KintoneSchema.passwordFileVariable),
        ServiceOption(
            "basic-auth-username", valueName: "NAME",
            help: "User name for Basic authentication in front of the domain (\(KintoneSchema.basicAuthUserVariable)).",
            variable: KintoneSchema.basicAuthUserVariable),
        ServiceOption(
            "basic-auth-password-file", valueName: "FILE",
            help: "Read the Basic authentication password from this file (\(KintoneSchema.basicAuthPasswordFileVariable)).",
            variable: KintoneSchema.basicAuthPasswordFileVariable),
        ServiceOption(
            "pfx-file-path", valueName: "FILE",
            help: "Client certificate, a .pfx file (\(KintoneSchema.pfxFileVariable)); use the .s.cybozu.com URL.",
            variable: KintoneSchema.pfxFileVariable),
        ServiceOption(
            "pfx-password-file", valueName: "FILE",
            help: "Read the .pfx password from this file (\(KintoneSchema.pfxPasswordFileVariable)).",
            variable: KintoneSchema.pfxPasswordFileVariable),
        ServiceOption(
            "proxy", valueName: "URL",
            help: "HTTP(S) proxy, like http://proxy:8080 (\(KintoneSchema.proxySettingVariable); default \(KintoneSchema.proxyVariable) for https domains).",
            variable: KintoneSchema.proxySettingVariable),
        ServiceOption(
            "timeout", valueName: "SECONDS",
            help: "Seconds one request may take before it is abandoned and retried (\(KintoneSchema.timeoutVariable); default 60).",
            variable: KintoneSchema.timeoutVariable),
    ]
}
