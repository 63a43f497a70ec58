import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal
import Logging

/// Everything kitbag needs to know about one service apart from its connector's own code: its names, default
/// pacing, credential variables, service-specific options and how to make a connector. Each connector declares one
/// in its own folder; the CLI holds the one list of them (rclone's backend registration).
public struct ConnectorDescriptor: Sendable {
    public var service: ServiceName
    /// The service's name as people write it (`Kinopio`), in indexes and messages.
    public var displayName: String
    /// Pacing when nothing overrides it (`RateLimit.kinopio`): what the service documents, or a modest guess.
    public var defaultLimits: RateLimit
    /// The environment variables the connector reads, as help shows them: a first line and continuation lines.
    public var credentialHelp: [String]
    /// Options only this service has (`--guest-space`, `--app`, …), validated here and shown in help from here.
    public var options: [ServiceOption]
    /// Profile keys of the config file that set an environment variable (Kintone `apps` → `KINTONE_APPS`).
    public var profileVariables: [String: String]
    /// Whether `kitbag import` can carry another service's archive into this one (a `MigrationTarget`).
    public var acceptsMigrations: Bool
    /// Files besides archives that `kitbag import` takes into this service (Kinopio: JSON Canvas).
    public var fileImports: [FileImport]
    /// How the service's archives read into the readable model (`kitbag render`).
    public var rendering: RenderingSource
    /// How the service's archives read into the common model for migrations.
    public var migration: MigrationSource
    /// The variables that point the connector at a local sandbox at `baseURL` that accepts `credential` (the
    /// password of `login` when the sandbox names a login user).
    public var sandboxEnvironment: @Sendable (_ baseURL: URL, _ credential: String, _ login: String?) -> [String: String]
    /// Makes a connector from the command line's and the environment's settings.
    public var make: @Sendable (ConnectorSettings) throws -> any Connector

    public init(
        service: ServiceName, displayName: String, defaultLimits: RateLimit, credentialHelp: [String],
        options: [ServiceOption] = [], profileVariables: [String: String] = [:], acceptsMigrations: Bool,
        fileImports: [FileImport] = [], rendering: RenderingSource, migration: MigrationSource,
        sandboxEnvironment: @escaping @Sendable (URL, String, String?) -> [String: String],
        make: @escaping @Sendable (ConnectorSettings) throws -> any Connector
    ) {
        self.service = service
        self.displayName = displayName
        self.defaultLimits = defaultLimits
        self.credentialHelp = credentialHelp
        self.options = options
        self.profileVariables = profileVariables
        self.acceptsMigrations = acceptsMigrations
        self.fileImports = fileImports
        self.rendering = rendering
        self.migration = migration
        self.sandboxEnvironment = sandboxEnvironment
        self.make = make
    }

    /// The option that picks containers for export and backup (`space`, `app`), if the service has one.
    public var selectionOption: ServiceOption? { options.first { $0.role == .selection } }

    /// The options that `command` takes.
    public func options(for command: ServiceCommand) -> [ServiceOption] {
        options.filter { $0.commands.contains(command) }
    }
}

/// The commands a service option can belong to.
public enum ServiceCommand: String, Sendable, CaseIterable {
    case export, backup, check
    case importArchive = "import"

    /// Every command that connects to the service.
    public static let connecting: Set<ServiceCommand> = Set(allCases)
}

/// One option a service adds to the command line: `--NAME VALUE` (once or repeated) or a flag.
public struct ServiceOption: Sendable, Equatable {
    public enum Arity: Sendable, Equatable {
        case value, repeated, flag
    }

    /// What the CLI does with the values; `connection` ones go to the connector's `make`.
    public enum Role: Sendable, Equatable {
        case connection
        /// The containers an export or backup covers (`--space ID`, `--app ID`).
        case selection
        /// `SRC=DST` pairs: import into existing containers (`ImportOptions.containerMap`).
        case containerMap
        /// The field that identifies a record for upserts (`ImportOptions.updateKey`).
        case updateKey
    }

    public var name: String
    public var valueName: String
    public var help: String
    public var arity: Arity
    public var role: Role
    public var commands: Set<ServiceCommand>
    /// The environment variable the option sets for the connector (a flag wins over the variable).
    public var variable: String?
    /// The config profile key that gives the option a value when the command line does not.
    public var profileKey: String?
    /// Another option of the same service this one needs.
    public var requires: String?

    public init(
        _ name: String, valueName: String = "VALUE", help: String, arity: Arity = .value, role: Role = .connection,
        commands: Set<ServiceCommand> = ServiceCommand.connecting, variable: String? = nil, profileKey: String? = nil,
        requires: String? = nil
    ) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.arity = arity
        self.role = role
        self.commands = commands
        self.variable = variable
        self.profileKey = profileKey
        self.requires = requires
    }
}

/// The values of a service's options, by option name, in command-line order.
public struct ServiceOptionValues: Sendable, Equatable {
    public var values: [String: [String]]

    public init(_ values: [String: [String]] = [:]) {
        self.values = values
    }

    public subscript(_ name: String) -> [String] {
        get { values[name] ?? [] }
        set { values[name] = newValue.isEmpty ? nil : newValue }
    }

    /// The value of a single-valued option.
    public func value(_ name: String) -> String? { values[name]?.last }
    public func has(_ name: String) -> Bool { values[name] != nil }
    public var isEmpty: Bool { values.isEmpty }
}

/// Everything a descriptor's `make` gets: where the service is, how fast to talk to it, its option values and
/// the environment (with the profile's credentials and the option-set variables applied).
public struct ConnectorSettings: Sendable {
    public var baseURL: String?
    /// Requests per second instead of the descriptor's default limits; 0 turns pacing off (local sandboxes).
    public var rateLimit: Double?
    /// The most requests in flight at once instead of the descriptor's default limits (`--concurrency`).
    public var concurrency: Int?
    public var options: ServiceOptionValues
    public var environment: [String: String]
    public var retry: RetryPolicy?
    public var logger: Logger
    public var progress: ProgressReporter

    public init(
        baseURL: String? = nil, rateLimit: Double? = nil, concurrency: Int? = nil,
        options: ServiceOptionValues = ServiceOptionValues(), environment: [String: String], retry: RetryPolicy? = nil,
        logger: Logger, progress: ProgressReporter
    ) {
        self.baseURL = baseURL
        self.rateLimit = rateLimit
        self.concurrency = concurrency
        self.options = options
        self.environment = environment
        self.retry = retry
        self.logger = logger
        self.progress = progress
    }
}

/// A kind of file other than an archive that `kitbag import` takes into a service.
public struct FileImport: Sendable {
    /// File name extension, lower case, without the dot (`canvas`).
    public var fileExtension: String
    /// What the file is called (`JSON Canvas`).
    public var name: String
    /// Imports the file through `connector` (journaled like an archive; `journal` nil takes the default).
    public var run: @Sendable (_ file: URL, _ connector: any Connector, _ journal: URL?, _ options: ImportOptions,
        _ progress: ProgressReporter) async throws -> ImportSummary

    public init(
        fileExtension: String, name: String,
        run: @escaping @Sendable (URL, any Connector, URL?, ImportOptions, ProgressReporter) async throws -> ImportSummary
    ) {
        self.fileExtension = fileExtension
        self.name = name
        self.run = run
    }
}

// MARK: - Reading options from the command line

extension ConnectorDescriptor {
    /// Reads the service options among `arguments` (what the CLI did not recognise itself) for `command`. An option
    /// of another service, one this command does not take, a missing value or anything else is one line, a usage
    /// error, naming what the service does take.
    public func parseOptions(
        _ arguments: [String], command: ServiceCommand, services: [ConnectorDescriptor]
    ) throws -> ServiceOptionValues {
        var values = ServiceOptionValues()
        var i = 0
        func usage(_ message: String) -> UserError { UserError(message, exitStatus: .usage) }
        while i < arguments.count {
            let word = arguments[i]
            i += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                throw usage("unexpected argument '\(word)'; kitbag \(command.rawValue) --help lists what it takes")
            }
            var name = String(word.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = options.first(where: { $0.name == name }) else {
                let owners = services.filter { $0.service != service && $0.options.contains { $0.name == name } }
                guard !owners.isEmpty else {
                    throw usage("unknown option '--\(name)'; kitbag \(command.rawValue) --help lists the options")
                }
                let who = owners.map(\.displayName).joined(separator: ", ")
                let own = options(for: command).map { "--\($0.name)" }
                throw usage(
                    "--\(name) is a \(who) option; drop it for \(service.rawValue)"
                        + (own.isEmpty ? "" : " (\(displayName) takes \(own.joined(separator: ", ")))"))
            }
            guard option.commands.contains(command) else {
                throw usage("--\(name) does not go with kitbag \(command.rawValue)")
            }
            switch option.arity {
            case .flag:
                if inline != nil { throw usage("--\(name) takes no value") }
                values[name] = ["true"]
            case .value, .repeated:
                var value = inline
                if value == nil, i < arguments.count {
                    value = arguments[i]
                    i += 1
                }
                guard let value else { throw usage("--\(name) needs a value (\(option.valueName))") }
                if option.arity == .value, values.has(name) { throw usage("--\(name) is given twice; give it once") }
                values[name] = values[name] + [value]
            }
        }
        for option in options where values.has(option.name) {
            if let needed = option.requires, !values.has(needed) {
                throw usage("--\(option.name) needs --\(needed) too")
            }
        }
        return values
    }

    /// Adds what a config profile says (`guest_space`, `apps`) where the command line and the environment do not:
    /// options by their profile key, variables by `profileVariables`.
    public func applying(
        profile: [String: [String]], to values: ServiceOptionValues, environment: [String: String]
    ) -> (ServiceOptionValues, [String: String]) {
        var values = values
        var environment = environment
        for option in options {
            guard let key = option.profileKey, let given = profile[key], !given.isEmpty, !values.has(option.name) else {
                continue
            }
            values[option.name] = option.arity == .repeated ? given : [given[given.count - 1]]
        }
        for (key, variable) in profileVariables.sorted(by: { $0.key < $1.key }) {
            guard let given = profile[key], !given.isEmpty, (environment[variable] ?? "").isEmpty else { continue }
            environment[variable] = given.joined(separator: ",")
        }
        return (values, environment)
    }

    /// The environment with the variables the given options set (a flag wins over the variable).
    public func environment(_ environment: [String: String], with values: ServiceOptionValues) -> [String: String] {
        var out = environment
        for option in options {
            guard let variable = option.variable, let value = values.value(option.name) else { continue }
            out[variable] = value
            // A file option replaces the variable it stands for, so the file is what is read.
            if variable.hasSuffix("_FILE") { out[String(variable.dropLast(5))] = nil }
        }
        return out
    }

    /// Help text for this service's options of `command`, as help lists options: `    --app ID   Export or …`, the
    /// text wrapped at `width` columns under its own column.
    public func optionHelp(for command: ServiceCommand, width: Int = 79) -> [String] {
        let indent = "    ", column = 30
        var lines: [String] = []
        for option in options(for: command) {
            let flag = "--\(option.name)" + (option.arity == .flag ? "" : " \(option.valueName)")
            var line = indent + flag
            if line.count + 2 > column {
                lines.append(line)
                line = ""
            }
            for word in option.help.split(separator: " ") {
                if line.count < column {
                    line = line.padding(toLength: column, withPad: " ", startingAt: 0) + word
                } else if line.count + 1 + word.count > width {
                    lines.append(line)
                    line = String(repeating: " ", count: column) + word
                } else {
                    line += " " + word
                }
            }
            lines.append(line)
        }
        return lines
    }
}
