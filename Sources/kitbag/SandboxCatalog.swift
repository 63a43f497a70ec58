import Foundation
import KitbagCore
import KitbagSandbox
import Logging

/// The built-in sandbox of each service, and the environment that points its connector at one.
struct SandboxCatalog: Sendable {
    let service: ServiceName
    /// The credential a sandbox accepts when none is given.
    let defaultCredential: String
    let start: @Sendable (SandboxOptions, Logger) async throws -> RunningSandbox
    /// Connector variables (base URL and credentials) for a sandbox owned by `credential`.
    let environment: @Sendable (RunningSandbox, String) -> [String: String]

    static let all: [SandboxCatalog] = [kinopio, kintone, kitemaker, kona]

    static func entry(_ service: ServiceName) -> SandboxCatalog? { all.first { $0.service == service } }

    static let kinopio = SandboxCatalog(
        service: .kinopio, defaultCredential: KinopioSandbox.defaultCredential,
        start: { try await KinopioSandbox.start($0, logger: $1) },
        environment: { ["KINOPIO_BASE_URL": $0.baseURL.absoluteString, "KINOPIO_API_KEY": $1] })
}

extension SandboxCatalog {
    static let kitemaker = SandboxCatalog(
        service: .kitemaker, defaultCredential: KitemakerSandbox.defaultCredential,
        start: { try await KitemakerSandbox.start($0, logger: $1) },
        environment: { ["KITEMAKER_BASE_URL": $0.baseURL.absoluteString, "KITEMAKER_TOKEN": $1] })
}

extension SandboxCatalog {
    static let kona = SandboxCatalog(
        service: .kona, defaultCredential: KonaSandbox.defaultCredential,
        start: { try await KonaSandbox.start($0, logger: $1) },
        environment: { ["KONA_BASE_URL": $0.baseURL.absoluteString, "KONA_ACCESS_TOKEN": $1] })
}

extension SandboxCatalog {
    static let kintone = SandboxCatalog(
        service: .kintone, defaultCredential: KintoneSandbox.defaultCredential,
        start: { try await KintoneSandbox.start($0, logger: $1) },
        // A login, not the token: API tokens cannot list or create apps, which a demo does.
        environment: {
            [
                "KINTONE_BASE_URL": $0.baseURL.absoluteString, "KINTONE_USERNAME": KintoneSandbox.defaultLogin.user,
                "KINTONE_PASSWORD": $1,
            ]
        })
}
