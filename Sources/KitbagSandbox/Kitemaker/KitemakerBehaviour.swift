import Foundation
import KitbagSandboxCore

/// How a Kitemaker sandbox answers where Kitemaker's documentation (kitemakerhq/rest-docs, commit
/// 2f0c66b3c459eb969218810464bd1d8afe5a3ca6) leaves the real server open. The default is the server tests assume
/// everywhere else: every accepted token may read and write.
public struct KitemakerServerBehaviour: Sendable, Equatable {
    /// Tokens that may read but not write: a REST `POST`/`PUT` or a GraphQL mutation sent with one answers 403 in
    /// Kitemaker's documented error shape (`_documentation/errors.md`: `{"errors": [{"message", "status"}]}`), and
    /// nothing changes. Kitemaker documents neither token scopes nor a 403 (its table lists 400, 401, 404 and 429);
    /// this plays a token whose user may look but not edit (a guest of the space), so that a connector's answer to a
    /// refused write can be tested.
    public var readOnlyTokens: Set<String> = []

    public init(readOnlyTokens: Set<String> = []) {
        self.readOnlyTokens = readOnlyTokens
    }

    /// The message of the 403.
    static let forbiddenMessage = "This token may read but not make changes in this organization"
}

extension KitemakerServerBehaviour: SandboxServiceOption {
    public static var defaultValue: KitemakerServerBehaviour { KitemakerServerBehaviour() }
}

extension SandboxOptions {
    /// Which reading of Kitemaker's undocumented behaviours the Kitemaker sandbox follows.
    public var kitemaker: KitemakerServerBehaviour {
        get { self[service: KitemakerServerBehaviour.self] }
        set { self[service: KitemakerServerBehaviour.self] = newValue }
    }
}
