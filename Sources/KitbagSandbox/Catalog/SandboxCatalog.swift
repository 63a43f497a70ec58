@_exported import KitbagSandboxCore
@_exported import KitbagSandboxKinopio
@_exported import KitbagSandboxKintone
@_exported import KitbagSandboxKitemaker
@_exported import KitbagSandboxKona
import Logging

/// One built-in emulator: the service it plays, the credential it accepts when none is given, and how to start it.
/// `import KitbagSandbox` brings every emulator and the core with it.
public struct SandboxEmulator: Sendable {
    /// The service's name on the command line, e.g. `kinopio`.
    public let name: String
    /// The credential the sandbox accepts when `SandboxOptions.credentials` is empty.
    public let defaultCredential: String
    /// Seeds, binds and returns once the sandbox listens.
    public let start: @Sendable (SandboxOptions, Logger) async throws -> RunningSandbox

    /// Every built-in emulator, one line each.
    public static let all: [SandboxEmulator] = [
        SandboxEmulator(name: "kinopio", defaultCredential: KinopioSandbox.defaultCredential) {
            try await KinopioSandbox.start($0, logger: $1)
        },
        SandboxEmulator(name: "kintone", defaultCredential: KintoneSandbox.defaultCredential) {
            try await KintoneSandbox.start($0, logger: $1)
        },
        SandboxEmulator(name: "kitemaker", defaultCredential: KitemakerSandbox.defaultCredential) {
            try await KitemakerSandbox.start($0, logger: $1)
        },
        SandboxEmulator(name: "kona", defaultCredential: KonaSandbox.defaultCredential) {
            try await KonaSandbox.start($0, logger: $1)
        },
    ]

    /// The emulator of the service with this name, if there is one.
    public static func named(_ name: String) -> SandboxEmulator? { all.first { $0.name == name } }
}
