import Foundation
import Kinopio
import Kintone
import Kitemaker
import KitbagConnector
import KitbagCore
import KitbagSandbox
import Kona
import Logging

/// Every service kitbag knows, in one list: its connector's descriptor and its built-in sandbox. Nothing else in
/// the CLI names a service; a new one adds its line here (CONTRIBUTING.md lists the other steps).
struct ServiceCatalog: Sendable {
    static let all: [ServiceCatalog] = registered([
        ServiceCatalog(.kinopio, sandbox: SandboxEntry(KinopioSandbox.defaultCredential) { try await KinopioSandbox.start($0, logger: $1) }),
        ServiceCatalog(.kintone, sandbox: SandboxEntry(KintoneSandbox.defaultCredential, login: KintoneSandbox.defaultLogin.user) { try await KintoneSandbox.start($0, logger: $1) }),
        ServiceCatalog(.kitemaker, sandbox: SandboxEntry(KitemakerSandbox.defaultCredential) { try await KitemakerSandbox.start($0, logger: $1) }),
        ServiceCatalog(.kona, sandbox: SandboxEntry(KonaSandbox.defaultCredential) { try await KonaSandbox.start($0, logger: $1) }),
    ])

    let descriptor: ConnectorDescriptor
    /// The service's local emulator, when kitbag has one.
    let sandbox: SandboxEntry?

    init(_ descriptor: ConnectorDescriptor, sandbox: SandboxEntry?) {
        self.descriptor = descriptor
        self.sandbox = sandbox
    }

    var service: ServiceName { descriptor.service }

    /// Makes every service of the list known (backup folders and config files recognise their names).
    private static func registered(_ list: [ServiceCatalog]) -> [ServiceCatalog] {
        for entry in list { ServiceName.register(entry.service) }
        return list
    }

    static func entry(_ service: ServiceName) -> ServiceCatalog? { all.first { $0.service == service } }

    static var descriptors: [ConnectorDescriptor] { all.map(\.descriptor) }

    /// The descriptor of `service`, or one line naming the services there are.
    static func descriptor(_ service: ServiceName) throws -> ConnectorDescriptor {
        guard let entry = entry(service) else {
            throw UserError("kitbag \(Kitbag.version) has no connector for \(service.rawValue) (services: \(names(", ")))", exitStatus: .usage)
        }
        return entry.descriptor
    }

    /// `kinopio, kintone, kitemaker or kona` (with `displayNames`, `Kinopio, Kintone, …`).
    static func names(_ last: String = " or ", displayNames: Bool = false) -> String {
        let list = all.map { displayNames ? $0.descriptor.displayName : $0.service.rawValue }
        guard list.count > 1 else { return list.joined() }
        return list.dropLast().joined(separator: ", ") + last + list[list.count - 1]
    }

    /// The credentials section of every command that talks to a service: which variables each connector reads and
    /// how to keep a secret off the command line (where `ps` shows it to every user).
    static var credentialHelp: String {
        let width = (all.map(\.service.rawValue.count).max() ?? 0) + 2
        var text = """
            Credentials come from the environment or from files (never from flags, which `ps` shows to every user), or \
            from a profile of the config file (--profile; a secret there may be { file = "PATH" }, mode 0600):

            """
        for entry in all {
            for (i, line) in entry.descriptor.credentialHelp.enumerated() {
                let head = i == 0 ? entry.service.rawValue : ""
                text += "  " + head.padding(toLength: width, withPad: " ", startingAt: 0) + line + "\n"
            }
        }
        return text + "`kitbag sandbox SERVICE` prints the variables that point kitbag at a local emulator."
    }

    /// The options each service adds to `command`, for its help (services with the same options share a block).
    static func optionHelp(for command: ServiceCommand) -> String {
        var blocks: [(names: [String], lines: [String])] = []
        for entry in all {
            let lines = entry.descriptor.optionHelp(for: command)
            guard !lines.isEmpty else { continue }
            if let i = blocks.firstIndex(where: { $0.lines == lines }) {
                blocks[i].names.append(entry.service.rawValue)
            } else {
                blocks.append(([entry.service.rawValue], lines))
            }
        }
        guard !blocks.isEmpty else { return "" }
        var text = "\nService options (after the service name; each service's own):\n"
        for block in blocks {
            text += "  \(block.names.joined(separator: ", "))\n" + block.lines.map { $0 + "\n" }.joined()
        }
        return text
    }
}

/// A service's built-in sandbox: how to start it and which credential it takes when none is given.
struct SandboxEntry: Sendable {
    let defaultCredential: String
    /// The login user whose password the credential is, for a service signed in to with a login.
    let login: String?
    let start: @Sendable (SandboxOptions, Logger) async throws -> RunningSandbox

    init(
        _ defaultCredential: String, login: String? = nil,
        start: @escaping @Sendable (SandboxOptions, Logger) async throws -> RunningSandbox
    ) {
        self.defaultCredential = defaultCredential
        self.login = login
        self.start = start
    }
}

extension ServiceCatalog {
    /// Connector variables (base URL and credentials) for a running sandbox of this service owned by `credential`.
    func environment(_ running: RunningSandbox, _ credential: String) -> [String: String] {
        descriptor.sandboxEnvironment(running.baseURL, credential, sandbox?.login)
    }
}
