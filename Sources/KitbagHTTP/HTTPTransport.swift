import AsyncHTTPClient
import Foundation
import KitbagCore
import NIOSSL

/// How to reach a service beyond its URL, for domains behind corporate networks: an HTTP(S) proxy and a TLS
/// client certificate (a PKCS #12 `.pfx` file and its password), as cli-kintone offers them (`HTTPS_PROXY`,
/// `--pfx-file-path` / `--pfx-file-password`).
public struct HTTPTransportOptions: Sendable, Equatable {
    /// `http://[user:password@]host:port`; the tunnel to an https service goes through `CONNECT`.
    public var proxy: String?
    public var clientCertificate: String?
    public var clientCertificatePassword: String?

    public init(proxy: String? = nil, clientCertificate: String? = nil, clientCertificatePassword: String? = nil) {
        self.proxy = proxy
        self.clientCertificate = clientCertificate
        self.clientCertificatePassword = clientCertificatePassword
    }

    /// True when the process-wide client will do.
    public var isDefault: Bool { proxy == nil && clientCertificate == nil }

    /// The secrets inside (the proxy's password, the certificate's password), for redaction.
    public var secrets: [String] {
        var out: [String] = []
        if let p = clientCertificatePassword, !p.isEmpty { out.append(p) }
        if let proxy, let password = URLComponents(string: proxy)?.password, !password.isEmpty { out.append(password) }
        return out
    }
}

public enum HTTPTransport {
    /// A client of its own for `options` (the caller shuts it down), configured like `APIClient.sharedHTTPClient`;
    /// nil when the shared client will do. Each problem is one line naming the variable or flag to fix; no secret
    /// appears in it.
    public static func client(
        _ options: HTTPTransportOptions, service: String, proxyVariable: String, certificateVariables: (String, String),
        now: Date = Date()
    ) throws -> HTTPClient? {
        guard !options.isDefault else { return nil }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(300)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = APIClient.connectionsPerHost
        if let proxy = options.proxy {
            configuration.proxy = try Self.proxy(proxy, service: service, variable: proxyVariable)
        }
        if let path = options.clientCertificate {
            let (pathVariable, passwordVariable) = certificateVariables
            let bundle: NIOSSLPKCS12Bundle
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw UserError("\(service): cannot read the client certificate \(path) — check \(pathVariable)", exitStatus: .usage)
            }
            do {
                bundle = try NIOSSLPKCS12Bundle(file: path, passphrase: Array((options.clientCertificatePassword ?? "").utf8))
            } catch {
                throw UserError(
                    "\(service): \(path) is not a PKCS #12 (.pfx) certificate this password opens — check \(pathVariable) and \(passwordVariable)",
                    exitStatus: .usage)
            }
            guard let leaf = bundle.certificateChain.first else {
                throw UserError("\(service): \(path) holds no certificate — export the client certificate again as .pfx", exitStatus: .usage)
            }
            let expiry = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
            if expiry < now {
                throw UserError(
                    "\(service): the client certificate in \(path) expired on \(Timestamp.string(expiry)) — ask your administrator for a new one and point \(pathVariable) at it",
                    exitStatus: .usage)
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateChain = bundle.certificateChain.map { .certificate($0) }
            tls.privateKey = .privateKey(bundle.privateKey)
            configuration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// `http://user:password@host:port` (or `host:port`) as a proxy; https proxies are reached by `CONNECT` too.
    static func proxy(_ text: String, service: String, variable: String) throws -> HTTPClient.Configuration.Proxy {
        let withScheme = text.contains("://") ? text : "http://" + text
        guard let url = URLComponents(string: withScheme), let host = url.host, !host.isEmpty,
            ["http", "https"].contains(url.scheme?.lowercased() ?? "")
        else {
            throw UserError("\(service): \(variable) is not a proxy URL — write it like http://proxy.example.com:8080", exitStatus: .usage)
        }
        let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
        var authorization: HTTPClient.Authorization?
        if let user = url.user, !user.isEmpty {
            authorization = .basic(username: user.removingPercentEncoding ?? user, password: url.password?.removingPercentEncoding ?? "")
        }
        return .server(host: host, port: port, authorization: authorization)
    }
}
