import Foundation
import KitbagCore
import TOMLKit

/// `~/.config/kitbag/config.toml`: named profiles, each a service, a base URL and where its secrets come from.
///
///     [profiles.work]
///     service = "kintone"
///     base_url = "https://example.kintone.com"
///     guest_space = "12"          # a service's own setting (Kintone): its connector says which keys it reads
///     apps = ["6", "9"]            # (Kintone) the apps to export or back up (API tokens cannot list them)
///     rate_limit = 5              # optional, requests per second
///     [profiles.work.credentials]
///     KINTONE_API_TOKEN = { env = "WORK_KINTONE_TOKEN" }     # read from another variable
///     # KINTONE_API_TOKEN = { file = "/etc/kitbag/work.token" }  # a file of mode 0600
///     # KINTONE_API_TOKEN = "…"    # inline: refused unless config.toml itself is mode 0600
///
/// Variables already set in the environment win over the profile.
public struct KitbagConfig: Sendable, Equatable {
    public struct Profile: Sendable, Equatable {
        public var name: String
        public var service: ServiceName
        public var baseURL: String?
        public var rateLimit: Double?
        /// Connector variable (e.g. `KINOPIO_API_KEY`) → where its value comes from.
        public var credentials: [String: CredentialSourceSpec]
        /// Every other key of the profile (a string, number or list of them), for the service's connector to read:
        /// Kintone's `guest_space` and `apps`.
        public var settings: [String: [String]] = [:]

        /// Kintone: the guest space the profile reaches.
        public var guestSpace: String? { settings["guest_space"]?.last }
        /// Kintone: the apps a run covers when no `--app` is given.
        public var apps: [String] { settings["apps"] ?? [] }
    }

    public enum CredentialSourceSpec: Sendable, Equatable {
        case environment(String)
        case file(String)
        case inline
    }

    public var url: URL
    public var profiles: [String: Profile]
    /// Inline secrets, kept apart so `Profile` can be printed without them.
    private var inlineSecrets: [String: [String: String]]

    /// The default location: `$KITBAG_CONFIG`, else `$XDG_CONFIG_HOME/kitbag/config.toml`, else `~/.config/kitbag/config.toml`.
    public static func defaultURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["KITBAG_CONFIG"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config")
        return base.appendingPathComponent("kitbag/config.toml")
    }

    /// Reads and checks a config file; every problem is one line naming the file and the profile.
    public static func load(_ url: URL) throws -> KitbagConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw UserError("cannot read the config file \(url.path): \(error.localizedDescription)", exitStatus: .usage)
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw UserError(
                "\(url.path):\(error.source.begin.line):\(error.source.begin.column): \(error.description)", exitStatus: .usage)
        }
        let fileIsPrivate = Self.isPrivate(url)
        var profiles: [String: Profile] = [:]
        var inline: [String: [String: String]] = [:]
        for name in root["profiles"]?.table?.keys ?? [] {
            guard let table = root["profiles"]?.table?[name]?.table else { continue }
            func bad(_ what: String) -> UserError { UserError("\(url.path): profile \(name): \(what)", exitStatus: .usage) }
            guard let serviceText = table["service"]?.string else {
                throw bad("needs service = \"\(ServiceName.known.sorted().map(\.rawValue).joined(separator: "|"))\"")
            }
            guard let service = ServiceName(rawValue: serviceText), ServiceName.known.contains(service) else {
                let known = ServiceName.known.sorted().map(\.rawValue).joined(separator: ", ")
                throw bad("unknown service \"\(serviceText)\" (services: \(known))")
            }
            var credentials: [String: CredentialSourceSpec] = [:]
            for variable in table["credentials"]?.table?.keys ?? [] {
                let value = table["credentials"]!.table![variable]!
                if let inlineValue = value.string {
                    guard fileIsPrivate else {
                        throw bad(
                            "\(variable) is written inline, but \(url.lastPathComponent) can be read by other users; "
                                + "chmod 600 it or use { env = \"VAR\" } / { file = \"PATH\" }")
                    }
                    credentials[variable] = .inline
                    inline[name, default: [:]][variable] = inlineValue
                } else if let env = value.table?["env"]?.string {
                    credentials[variable] = .environment(env)
                } else if let file = value.table?["file"]?.string {
                    credentials[variable] = .file(file)
                } else {
                    throw bad("\(variable) must be { env = \"VAR\" }, { file = \"PATH\" } or an inline string")
                }
            }
            let rate = table["rate_limit"]?.double ?? table["rate_limit"]?.int.map(Double.init)
            var profile = Profile(name: name, service: service, baseURL: table["base_url"]?.string, rateLimit: rate, credentials: credentials)
            for key in table.keys where !["service", "base_url", "rate_limit", "credentials"].contains(key) {
                func text(_ value: TOMLValueConvertible) -> String? { value.string ?? value.int.map(String.init) }
                if let list = table[key]?.array {
                    profile.settings[key] = list.compactMap { text($0) }
                } else if let value = table[key], let one = text(value) {
                    profile.settings[key] = [one]
                }
            }
            profiles[name] = profile
        }
        return KitbagConfig(url: url, profiles: profiles, inlineSecrets: inline)
    }

    /// The profile called `name`, or a one-line error listing the ones there are.
    public func profile(_ name: String) throws -> Profile {
        guard let p = profiles[name] else {
            let known = profiles.keys.sorted().joined(separator: ", ")
            throw UserError(
                "no profile \(name) in \(url.path)" + (known.isEmpty ? "" : " (profiles: \(known))"), exitStatus: .usage)
        }
        return p
    }

    /// The environment a connector sees for `profile`: the process environment, plus every credential the profile
    /// names that the environment does not set already (environment variables override the profile).
    public func environment(for profile: Profile, base: [String: String]) throws -> [String: String] {
        var out = base
        for (variable, source) in profile.credentials.sorted(by: { $0.key < $1.key }) where (base[variable] ?? "").isEmpty {
            switch source {
            case .environment(let name):
                guard let value = base[name], !value.isEmpty else {
                    throw UserError("profile \(profile.name): \(variable) comes from $\(name), which is not set", exitStatus: .usage)
                }
                out[variable] = value
            case .file(let path):
                let file = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
                guard Self.isPrivate(file) else {
                    throw UserError(
                        "profile \(profile.name): \(file.path) holds a secret but other users can read it; chmod 600 it",
                        exitStatus: .usage)
                }
                guard let text = try? String(contentsOf: file, encoding: .utf8) else {
                    throw UserError("profile \(profile.name): cannot read \(file.path) for \(variable)", exitStatus: .usage)
                }
                out[variable] = text.trimmingCharacters(in: .whitespacesAndNewlines)
            case .inline:
                out[variable] = inlineSecrets[profile.name]?[variable]
            }
        }
        return out
    }

    /// True when neither group nor others may read the file.
    static func isPrivate(_ url: URL) -> Bool {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.posixPermissions] as? NSNumber
        else { return false }
        return mode.intValue & 0o077 == 0
    }
}
