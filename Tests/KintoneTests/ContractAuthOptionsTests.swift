import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kintone

/// Contract: the ways real domains are reached besides a token or a login.
///
/// Sources: kintone/js-sdk packages/rest-api-client/src/KintoneRequestConfigBuilder.ts (commit
/// 003b2770edee77b314a7b67cb7645836f543b426): `basicAuth` adds `Authorization: Basic base64(user:password)` beside the
/// Kintone auth header; `clientCertAuth` takes a .pfx and its password; `proxy` and `socketTimeout` are options.
/// kintone/cli-kintone README / website/docs/guide/options.md: the variables `KINTONE_BASIC_AUTH_USERNAME`,
/// `KINTONE_BASIC_AUTH_PASSWORD`, `KINTONE_PFX_FILE_PATH`, `KINTONE_PFX_FILE_PASSWORD`, `HTTPS_PROXY`.
@Suite("Kintone contract: Basic authentication, client certificates, proxies, timeouts, secret files")
struct ContractAuthOptionsTests {
    static let credential = "kintone-auth-options-token-9d41"
    static let basic = (user: "gate", password: "kintone-basic-gate-password-6c2e")

    static func sandbox(basic: Bool = false) async throws -> RunningSandbox {
        try await KintoneSandbox.start(
            SandboxOptions(credentials: [credential], seed: .demo, rateLimit: false), logger: Fixture.logger,
            basicAuth: basic ? Self.basic : nil)
    }

    static func connect(_ url: String, _ environment: [String: String]) throws -> KintoneConnection {
        try KintoneConnection(baseURL: url, environment: environment, rateLimit: 0, logger: Fixture.logger)
    }

    static var login: [String: String] {
        [KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: credential]
    }

    @Test("a domain behind Basic authentication: without it one line says which variables to set; with it everything works")
    func basicAuthentication() async throws {
        let sandbox = try await Self.sandbox(basic: true)
        defer { Task { await sandbox.stop() } }
        do {
            _ = try await Self.connect(sandbox.baseURL.absoluteString, Self.login).probe()
            Issue.record("no Basic authentication was accepted")
        } catch {
            let m = String(describing: error)
            #expect(m.contains("401") && m.contains(KintoneSchema.basicAuthUserVariable) && !m.contains("\n"), "\(m)")
            #expect(!m.contains(Self.credential))
        }
        var environment = Self.login
        environment[KintoneSchema.basicAuthUserVariable] = Self.basic.user
        environment[KintoneSchema.basicAuthPasswordVariable] = Self.basic.password
        let connection = try Self.connect(sandbox.baseURL.absoluteString, environment)
        _ = try await connection.probe()
        #expect(try await connection.call(.GET, "records.json", query: [("app", "1")])["records"] != nil)
        // The Basic password is a secret like the others: never in a message.
        #expect(connection.client.endpoint.secrets.contains(Self.basic.password))
        environment[KintoneSchema.basicAuthPasswordVariable] = nil
        #expect(throws: UserError.self) { _ = try Self.connect(sandbox.baseURL.absoluteString, environment) }
    }

    @Test("--api-token-file and --password-file: the secret comes from the file's first line; a missing file is one line")
    func secretsFromFiles() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // The secret files hold credentials on purpose: their folder is removed without the leftover-secret scan.
        let secrets = try Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: secrets) }
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        let tokenFile = secrets.appendingPathComponent("token")
        try Data("\(KintoneSandbox.appToken(1)),\(KintoneSandbox.appToken(3))\n".utf8).write(to: tokenFile)
        let tokens = try Self.connect(sandbox.baseURL.absoluteString, [KintoneSchema.apiTokenFileVariable: tokenFile.path])
        #expect(tokens.authentication == .apiTokens(count: 2))
        let summary = try await KintoneConnectorTests.export(tokens, to: dir.appendingPathComponent("a.tar.zst"), apps: ["1", "3"])
        #expect(summary.counts["app"] == 2)

        let passwordFile = secrets.appendingPathComponent("password")
        try Data("\(Self.credential)\n".utf8).write(to: passwordFile)
        let login = try Self.connect(
            sandbox.baseURL.absoluteString,
            [KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordFileVariable: passwordFile.path])
        _ = try await login.probe()

        do {
            _ = try Self.connect(sandbox.baseURL.absoluteString, [KintoneSchema.apiTokenFileVariable: dir.appendingPathComponent("nope").path])
            Issue.record("a missing token file was accepted")
        } catch let error as UserError {
            #expect(error.message.contains(KintoneSchema.apiTokenFileVariable) && !error.message.contains("\n"))
        }
    }

    @Test("KINTONE_PROXY sends every request through the proxy; HTTPS_PROXY only for https domains, never loopback or NO_PROXY hosts")
    func proxies() async throws {
        let sandbox = try await Self.sandbox()
        defer { Task { await sandbox.stop() } }
        // The domain's own name does not resolve: only a request that went through the proxy (whose tunnel ends at
        // the sandbox) can succeed, and the proxy is asked to CONNECT to the domain.
        let proxy = try RecordingProxy(upstreamPort: sandbox.baseURL.port ?? 80)
        defer { proxy.stop() }
        var environment = Self.login
        environment[KintoneSchema.proxySettingVariable] = "http://127.0.0.1:\(proxy.port)"
        let proxied = try Self.connect("http://kintone-behind-proxy.invalid", environment)
        defer { Task { await proxied.shutdown() } }
        do {
            #expect(try await proxied.call(.GET, "app.json", query: [("id", "1")])["appId"]?.idString == "1")
        } catch {
            Issue.record("through the proxy: \(error) — the proxy saw \(proxy.requestLines)")
        }
        #expect(proxy.requestLines.first == "CONNECT kintone-behind-proxy.invalid:80 HTTP/1.1", "\(proxy.requestLines)")
        let direct = try Self.connect("http://kintone-behind-proxy.invalid", Self.login)
        await #expect(throws: HTTPFailure.self) { _ = try await direct.call(.GET, "app.json", query: [("id", "1")]) }

        let https = URL(string: "https://example.kintone.com")!
        #expect(KintoneConnection.proxy(for: https, environment: ["HTTPS_PROXY": "http://p:8080"]) == "http://p:8080")
        #expect(KintoneConnection.proxy(for: https, environment: ["https_proxy": "http://p:8080"]) == "http://p:8080")
        #expect(KintoneConnection.proxy(for: https, environment: ["HTTPS_PROXY": "http://p:8080", "NO_PROXY": ".kintone.com"]) == nil)
        #expect(KintoneConnection.proxy(for: URL(string: "http://127.0.0.1:8080")!, environment: ["HTTPS_PROXY": "http://p:8080"]) == nil)
        #expect(KintoneConnection.proxy(for: URL(string: "http://x.test")!, environment: ["KINTONE_PROXY": "http://p:1"]) == "http://p:1")
        do {
            _ = try Self.connect("https://example.kintone.com", Self.login.merging(["HTTPS_PROXY": "::nonsense"]) { $1 })
            Issue.record("a nonsense proxy was accepted")
        } catch let error as UserError {
            #expect(error.message.contains("HTTPS_PROXY") && !error.message.contains("\n"))
        }
        // A proxy password is redacted like every other secret.
        let withPassword = try Self.connect(
            "https://example.kintone.com", Self.login.merging(["HTTPS_PROXY": "http://me:kintone-proxy-password-71aa@p:8080"]) { $1 })
        defer { Task { await withPassword.shutdown() } }
        #expect(withPassword.client.endpoint.secrets.contains("kintone-proxy-password-71aa"))
    }

    @Test("KINTONE_TIMEOUT sets the request timeout; a bad value is one line")
    func timeout() throws {
        let connection = try Self.connect("https://example.kintone.com", Self.login.merging([KintoneSchema.timeoutVariable: "7.5"]) { $1 })
        #expect(connection.client.timeouts.request == .milliseconds(7500))
        #expect(throws: UserError.self) {
            _ = try Self.connect("https://example.kintone.com", Self.login.merging([KintoneSchema.timeoutVariable: "soon"]) { $1 })
        }
    }

    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    /// A self-signed client certificate as a .pfx, made with openssl.
    static func pfx(in dir: URL, password: String) throws -> URL {
        let key = dir.appendingPathComponent("k.pem"), cert = dir.appendingPathComponent("c.pem")
        let out = dir.appendingPathComponent("client.pfx")
        func run(_ args: [String]) throws {
            let p = try ChildProcess.runBlocking("/usr/bin/openssl", args, error: .null)
            #expect(p.status == 0, "openssl \(args.first ?? "")")
        }
        try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-out", cert.path, "-days", "2", "-subj", "/CN=kitbag-test"])
        try run(["pkcs12", "-export", "-inkey", key.path, "-in", cert.path, "-out", out.path, "-passout", "pass:\(password)"])
        return out
    }

    @Test("a client certificate (.pfx + password) is loaded; a wrong password or an expired certificate is one line", .enabled(if: hasOpenSSL))
    func clientCertificates() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let password = "kintone-pfx-password-2b7c"
        let file = try Self.pfx(in: dir, password: password)
        let options = HTTPTransportOptions(clientCertificate: file.path, clientCertificatePassword: password)
        let variables = (KintoneSchema.pfxFileVariable, KintoneSchema.pfxPasswordVariable)
        let client = try HTTPTransport.client(options, service: "kintone", proxyVariable: "HTTPS_PROXY", certificateVariables: variables)
        #expect(client != nil)
        try await client?.shutdown()

        var wrong = options
        wrong.clientCertificatePassword = "wrong-pfx-password-0e1f"
        do {
            _ = try HTTPTransport.client(wrong, service: "kintone", proxyVariable: "HTTPS_PROXY", certificateVariables: variables)
            Issue.record("a wrong .pfx password was accepted")
        } catch let error as UserError {
            #expect(error.message.contains(KintoneSchema.pfxPasswordVariable) && !error.message.contains("wrong-pfx-password-0e1f"))
        }
        do {
            _ = try HTTPTransport.client(
                options, service: "kintone", proxyVariable: "HTTPS_PROXY", certificateVariables: variables,
                now: Date().addingTimeInterval(10 * 24 * 3600))
            Issue.record("an expired certificate was accepted")
        } catch let error as UserError {
            #expect(error.message.contains("expired") && error.message.contains(KintoneSchema.pfxFileVariable))
        }
        // The connection takes it from the variables, and insists on the password.
        let connection = try Self.connect(
            "https://example.s.kintone.com",
            Self.login.merging([KintoneSchema.pfxFileVariable: file.path, KintoneSchema.pfxPasswordVariable: password]) { $1 })
        defer { Task { await connection.shutdown() } }
        #expect(connection.client.endpoint.secrets.contains(password))
        #expect(throws: UserError.self) {
            _ = try Self.connect("https://example.s.kintone.com", Self.login.merging([KintoneSchema.pfxFileVariable: file.path]) { $1 })
        }
    }
}
