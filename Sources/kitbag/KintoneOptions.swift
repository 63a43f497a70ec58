import ArgumentParser
import Foundation
import Kintone
import KitbagCore

/// Kintone's connection options (cli-kintone offers the same): each sets the environment variable named in its help,
/// which a config profile's `[credentials]` may also set. Secrets come from files, never from the command line.
struct KintoneOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kintone: read the API tokens (t1,t2, first line) from this file (\(KintoneSchema.apiTokenFileVariable)).", valueName: "FILE"))
    var apiTokenFile: String?

    @Option(help: ArgumentHelp("Kintone: read the login's password from this file (\(KintoneSchema.passwordFileVariable)).", valueName: "FILE"))
    var passwordFile: String?

    @Option(help: ArgumentHelp("Kintone: user name for Basic authentication in front of the domain (\(KintoneSchema.basicAuthUserVariable)).", valueName: "NAME"))
    var basicAuthUsername: String?

    @Option(help: ArgumentHelp("Kintone: read the Basic authentication password from this file (\(KintoneSchema.basicAuthPasswordFileVariable)).", valueName: "FILE"))
    var basicAuthPasswordFile: String?

    @Option(help: ArgumentHelp("Kintone: client certificate, a .pfx file (\(KintoneSchema.pfxFileVariable)); use the .s.cybozu.com URL.", valueName: "FILE"))
    var pfxFilePath: String?

    @Option(help: ArgumentHelp("Kintone: read the .pfx password from this file (\(KintoneSchema.pfxPasswordFileVariable)).", valueName: "FILE"))
    var pfxPasswordFile: String?

    @Option(help: ArgumentHelp("Kintone: HTTP(S) proxy, like http://proxy:8080 (\(KintoneSchema.proxySettingVariable); default \(KintoneSchema.proxyVariable) for https domains).", valueName: "URL"))
    var proxy: String?

    @Option(help: ArgumentHelp("Kintone: seconds one request may take before it is abandoned and retried (\(KintoneSchema.timeoutVariable); default 60).", valueName: "SECONDS"))
    var timeout: Double?

    /// The variables these options set, in flag order.
    var variables: [(String, String)] {
        var out: [(String, String)] = []
        if let apiTokenFile { out.append((KintoneSchema.apiTokenFileVariable, apiTokenFile)) }
        if let passwordFile { out.append((KintoneSchema.passwordFileVariable, passwordFile)) }
        if let basicAuthUsername { out.append((KintoneSchema.basicAuthUserVariable, basicAuthUsername)) }
        if let basicAuthPasswordFile { out.append((KintoneSchema.basicAuthPasswordFileVariable, basicAuthPasswordFile)) }
        if let pfxFilePath { out.append((KintoneSchema.pfxFileVariable, pfxFilePath)) }
        if let pfxPasswordFile { out.append((KintoneSchema.pfxPasswordFileVariable, pfxPasswordFile)) }
        if let proxy { out.append((KintoneSchema.proxySettingVariable, proxy)) }
        if let timeout { out.append((KintoneSchema.timeoutVariable, String(timeout))) }
        return out
    }

    /// `environment` with these options applied (a flag wins over the variable); an error for other services.
    func apply(to environment: [String: String], service: ServiceName) throws -> [String: String] {
        let set = variables
        guard !set.isEmpty else { return environment }
        guard service == .kintone else {
            throw UserError("--\(Self.flag(set[0].0)) is a Kintone option; drop it for \(service.rawValue)", exitStatus: .usage)
        }
        var out = environment
        for (name, value) in set {
            out[name] = value
            // A file flag replaces the variable it stands for, so the file is what is read.
            if name.hasSuffix("_FILE") { out[String(name.dropLast(5))] = nil }
        }
        return out
    }

    static func flag(_ variable: String) -> String {
        switch variable {
        case KintoneSchema.apiTokenFileVariable: "api-token-file"
        case KintoneSchema.passwordFileVariable: "password-file"
        case KintoneSchema.basicAuthUserVariable: "basic-auth-username"
        case KintoneSchema.basicAuthPasswordFileVariable: "basic-auth-password-file"
        case KintoneSchema.pfxFileVariable: "pfx-file-path"
        case KintoneSchema.pfxPasswordFileVariable: "pfx-password-file"
        case KintoneSchema.proxySettingVariable: "proxy"
        default: "timeout"
        }
    }
}
