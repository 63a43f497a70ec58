import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagConnector
import KitbagCore

extension ServiceName: ExpressibleByArgument {
    /// A service of `ServiceCatalog`; anything else is a usage error listing them.
    public init?(argument: String) {
        guard let name = ServiceName(rawValue: argument), ServiceCatalog.entry(name) != nil else { return nil }
        self = name
    }

    public static var allValueStrings: [String] { ServiceCatalog.all.map(\.service.rawValue) }
}

extension ArchiveFormat: ExpressibleByArgument {}

/// Options for choosing where an export goes.
struct OutputOptions: ParsableArguments {
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Archive file (.tar, .tar.gz, .tar.zst, .zip), an existing folder to put a dated archive in, or - for a tar on stdout.",
            valueName: "FILE|DIR|-"))
    var output: String?

    @Option(
        help: ArgumentHelp(
            "The container the archive is written as: tar, tar.gz, tar.zst, zip or folder (default: from the -o name, else tar.zst). Not --formats, which picks the renderings inside it.",
            valueName: "KIND"))
    var archiveFormat: ArchiveFormat?

    func validate() throws {
        // As tar and restic do: binary on a terminal helps nobody and garbles it. Checked before any request.
        if output == "-", isatty(STDOUT_FILENO) == 1 {
            throw ValidationError(
                "-o - writes the archive to stdout, which is a terminal; pipe it (| restic backup --stdin) or redirect it to a file.")
        }
    }

    /// Resolves the destination once the account (for the default name) is known.
    func destination(defaultName: (ArchiveFormat) -> String) throws -> (ArchiveDestination, ArchiveFormat) {
        let fm = FileManager.default
        guard let output else {
            let format = archiveFormat ?? .tarZst
            let url = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent(defaultName(format))
            return (format == .folder ? .folder(url) : .file(url), format)
        }
        if output == "-" {
            if let f = archiveFormat, f != .tar {
                throw ValidationError("-o - always streams a tar; drop --archive-format \(f.rawValue) or write to a file.")
            }
            return (.standardOutput, .tar)
        }
        var isDir: ObjCBool = false
        let url = URL(fileURLWithPath: output)
        // `-o newdir/`: a name ending in a slash is a folder to put a dated archive in, created when missing.
        if output.hasSuffix("/"), !fm.fileExists(atPath: url.path) {
            do {
                try fm.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw UserError("cannot create the folder \(output): \(error.localizedDescription)", exitStatus: .failure)
            }
        }
        if fm.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            let format = archiveFormat ?? .tarZst
            let inside = url.appendingPathComponent(defaultName(format))
            return (format == .folder ? .folder(inside) : .file(inside), format)
        }
        if archiveFormat == .folder { return (.folder(url), .folder) }
        if let named = ArchiveFormat.infer(from: output), let asked = archiveFormat, named != asked {
            throw ValidationError(
                "\(output) names a \(named.rawValue) archive but --archive-format asks for \(asked.rawValue); make them agree.")
        }
        guard let format = archiveFormat ?? ArchiveFormat.infer(from: output), format != .folder else {
            throw ValidationError(
                "cannot tell the archive kind of \(output): end it in .tar, .tar.gz, .tar.zst or .zip, or pass --archive-format.")
        }
        return (.file(url), format)
    }
}

/// `--formats json,markdown,rss,canvas,html`: renderings written beside the JSON Lines.
struct RenderingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Renderings written inside the archive: json (always written: import reads only it), markdown, rss, canvas, html. Not --archive-format, which picks the container.",
            valueName: "LIST"))
    var formats: String = "json,markdown,rss,canvas,html"

    var wanted: [String] {
        formats.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    /// The readable renderings asked for (JSON Lines are always written).
    var renderings: Set<ReadableFormat> { Set(wanted.compactMap(ReadableFormat.init(rawValue:))) }

    func validate() throws {
        for f in wanted where f != "json" && ReadableFormat(rawValue: f) == nil {
            throw ValidationError("unknown rendering '\(f)'; choose from json, markdown, rss, canvas, html.")
        }
    }
}

/// `card 40 · space 2`, zero counts left out; `none` when nothing is left.
func formatCounts(_ counts: [String: Int]) -> String {
    let parts = counts.keys.sorted().filter { counts[$0]! != 0 }.map { "\($0) \(counts[$0]!)" }
    return parts.isEmpty ? "none" : parts.joined(separator: " · ")
}

/// The request total; with `perRoute` (`-v`) also the count of every route.
func formatRequests(_ requests: [String: Int], perRoute: Bool) -> String {
    let total = requests.values.reduce(0, +)
    guard perRoute else { return "\(total)" }
    let parts = requests.keys.sorted().map { "\($0) ×\(requests[$0]!)" }.joined(separator: ", ")
    return "\(total) (\(parts))"
}

/// One indented line per entity kind an export could not reach, with the reason.
func formatNotExported(_ items: [NotExported], label: String = "not exported") -> String {
    items.map { n in "  \(label): \(n.kind)\(n.container.map { " in \($0)" } ?? ""): \(n.reason)\n" }.joined()
}

/// Where the service is and how fast kitbag may talk to it, plus the service's own options (`--app`,
/// `--guest-space`, …), which its connector's descriptor declares, validates and documents. Credentials come from
/// the environment (see `ServiceCatalog.credentialHelp`), never from the command line, where other users could read
/// them in the process list.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "API base URL (default: the service's public API, or SERVICE_BASE_URL; Kintone needs KINTONE_BASE_URL or this).")
    var baseURL: String?

    @Option(
        help: ArgumentHelp(
            "Requests per second (default: the service's documented limit, e.g. Kinopio 5). 0 turns pacing off: only for local sandboxes.",
            valueName: "N"))
    var rateLimit: Double?

    @Option(
        help: ArgumentHelp(
            "Most requests in flight at once (default: the service's rule — Kintone a quarter of its 100 per domain, Kona up to 16, adapting to the server's answers).",
            valueName: "N"))
    var concurrency: Int?

    @Option(help: "Take the base URL, limits and credential sources from this profile of the config file.")
    var profile: String?

    @Option(help: "Config file (default: $KITBAG_CONFIG, else ~/.config/kitbag/config.toml).")
    var config: String?

    /// Everything else on the command line: the service's own options, read by its descriptor.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var serviceArguments: [String] = []

    /// The service's options on the command line, checked by its descriptor for `command`.
    func serviceOptions(_ service: ServiceName, command: ServiceCommand) throws -> ServiceOptionValues {
        try ServiceCatalog.descriptor(service).parseOptions(
            serviceArguments, command: command, services: ServiceCatalog.descriptors)
    }

    /// Checks the service's options as part of a command's `validate()`: a mistake is a usage error.
    func validate(_ service: ServiceName, command: ServiceCommand) throws {
        do {
            _ = try serviceOptions(service, command: command)
        } catch let error as UserError {
            throw ValidationError(error.message)
        }
    }

    /// The containers the service's selection option names (`--space`, `--app`); all when none.
    func selection(_ service: ServiceName, command: ServiceCommand) throws -> ExportSelection {
        guard let option = try ServiceCatalog.descriptor(service).selectionOption else { return ExportSelection() }
        return ExportSelection(containers: try serviceOptions(service, command: command)[option.name])
    }

    /// The connector for `service`, built from these options, the profile and the environment (which wins).
    func connector(_ service: ServiceName, command: ServiceCommand, global: GlobalOptions, progress: ProgressReporter)
        throws -> any Connector
    {
        let descriptor = try ServiceCatalog.descriptor(service)
        var values = try serviceOptions(service, command: command)
        var environment = ProcessInfo.processInfo.environment
        var base = baseURL, rate = rateLimit
        if let profile {
            let file = config.map { URL(fileURLWithPath: $0) } ?? KitbagConfig.defaultURL()
            let loaded = try KitbagConfig.load(file)
            let p = try loaded.profile(profile)
            guard p.service == service else {
                throw UserError("profile \(profile) is for \(p.service.rawValue), not \(service.rawValue)", exitStatus: .usage)
            }
            let variable = "\(service.rawValue.uppercased())_BASE_URL"
            base = base ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? p.baseURL
            environment = try loaded.environment(for: p, base: environment)
            rate = rate ?? p.rateLimit
            (values, environment) = descriptor.applying(profile: p.settings, to: values, environment: environment)
        }
        return try descriptor.make(
            ConnectorSettings(
                baseURL: base, rateLimit: rate, concurrency: concurrency, options: values,
                environment: descriptor.environment(environment, with: values),
                logger: global.makeLogger("kitbag.\(service.rawValue)"), progress: progress))
    }

    func validate() throws {
        if let r = rateLimit, r < 0 || !r.isFinite { throw ValidationError("--rate-limit takes a number of requests per second, 0 or more.") }
        if let c = concurrency, c < 1 { throw ValidationError("--concurrency takes a number of requests in flight, 1 or more.") }
    }
}
