import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import Testing

/// The owner's key in every test sandbox.
let ownerKey = "test-owner-key"

/// Options for a test sandbox: demo seed, no rate limit, no faults unless a test asks.
func testOptions(
    seed: SandboxSeed = .demo, rateLimit: Bool = false, faultRate: Double = 0, penaltySeconds: Double = 30
) -> SandboxOptions {
    SandboxOptions(
        credentials: [ownerKey], seed: seed, faultRate: faultRate, faultSeed: 7,
        penaltySeconds: penaltySeconds, rateLimit: rateLimit)
}

/// A parsed HTTP answer.
struct Answer: Sendable {
    let status: Int
    let json: JSONValue?

    var array: [JSONValue] { json?.arrayValue ?? [] }
    subscript(key: String) -> JSONValue? { json?[key] }
}

/// A real HTTP client talking to one running sandbox over 127.0.0.1.
struct SandboxClient: Sendable {
    let client: HTTPClient
    let baseURL: URL

    func send(
        _ method: String, _ path: String, key: String? = ownerKey, body: JSONValue? = nil,
        headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL.absoluteString + path)
        request.method = .RAW(value: method)
        if let key { request.headers.add(name: "Authorization", value: key) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body.serialized())
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        let bytes = Array(buffer.readableBytesView)
        return Answer(status: Int(response.status.code), json: bytes.isEmpty ? nil : try JSONValue(parsing: bytes))
    }

    func get(_ path: String, key: String? = ownerKey) async throws -> Answer { try await send("GET", path, key: key) }
}

/// Starts a Kinopio sandbox, runs `body` with a client, and always stops both.
func withSandbox<T>(
    _ options: SandboxOptions, legacy: Bool = false, _ body: (RunningSandbox, SandboxClient) async throws -> T
) async throws -> T {
    try await withRunning(try await KinopioSandbox.start(options, legacy: legacy), body)
}

/// Runs `body` with a client of a started sandbox, and always stops both.
func withRunning<T>(_ sandbox: RunningSandbox, _ body: (RunningSandbox, SandboxClient) async throws -> T) async throws -> T {
    let client = HTTPClient()
    do {
        let result = try await body(sandbox, SandboxClient(client: client, baseURL: sandbox.baseURL))
        try await client.shutdown()
        await sandbox.stop()
        return result
    } catch {
        try? await client.shutdown()
        await sandbox.stop()
        throw error
    }
}

/// The id of the owner's space with this name, found through GET /user/spaces (or removed spaces).
func spaceId(named name: String, _ api: SandboxClient) async throws -> String {
    for path in ["/user/spaces", "/user/removed-spaces"] {
        let list = try await api.get(path)
        if let id = list.array.first(where: { $0["name"]?.stringValue == name })?["id"]?.stringValue { return id }
    }
    Issue.record("no space named \(name)")
    return ""
}
