import AsyncHTTPClient
import Foundation
import Testing

/// `kitbag sandbox` as a user starts it.
@Suite struct SandboxCommandTests {
    let key = "cli-test-key-55aa33"

    @Test func latencyFlagsTakeMillisecondsAndSayWhichIsWrong() async throws {
        for flag in ["--latency", "--jitter", "--latency-under-load"] {
            let negative = try await CLI.run(["sandbox", "kinopio", "\(flag)=-5"])
            #expect(negative.status == 2)
            #expect(negative.stderr.contains(flag), "\(negative.stderr)")
        }
    }

    @Test func theSandboxWaitsItsLatencyBeforeEveryAnswer() async throws {
        let (process, out, _) = try CLI.start(
            ["sandbox", "kinopio", "--api-key", key, "--seed", "empty", "--latency", "300", "--jitter", "20", "-q"])
        let client = HTTPClient()
        var failure: (any Error)?
        do {
            var printed = ""
            while !printed.contains("\n") {
                let chunk = out.availableData
                if chunk.isEmpty { break }
                printed += String(decoding: chunk, as: UTF8.self)
            }
            let url = printed.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(url.hasPrefix("http://127.0.0.1:"))
            for path in ["/user", "/nothing/here"] {
                var request = HTTPClientRequest(url: url + path)
                request.headers.add(name: "Authorization", value: key)
                let start = ContinuousClock.now
                let response = try await client.execute(request, timeout: .seconds(60))
                _ = try await response.body.collect(upTo: 1 << 20)
                #expect(ContinuousClock.now - start >= .milliseconds(300), "\(path) answered \(response.status.code) too soon")
            }
        } catch {
            failure = error
        }
        try? await client.shutdown()
        process.signal(SIGTERM)
        await process.wait()
        if let failure { throw failure }
        #expect(process.terminationStatus == 0)
    }

    /// The line `kitbag sandbox SERVICE` prints for another shell, used as printed, lets kitbag export the sandbox's
    /// account: for Kintone it once named the API token as the login's password, which the sandbox refused.
    @Test(arguments: ["kinopio", "kintone", "kitemaker", "kona"])
    func thePrintedExportLineWorksAsPrinted(service: String) async throws {
        let (process, _, err) = try CLI.start(["sandbox", service, "--seed", "demo"])
        var failure: (any Error)?
        do {
            var printed = ""
            while !printed.contains("sandbox ready") || !printed.hasSuffix("\n") {
                let chunk = err.availableData
                if chunk.isEmpty { break }
                printed += String(decoding: chunk, as: UTF8.self)
            }
            let line = try #require(printed.split(separator: "\n").first { $0.contains("sandbox ready") })
            let exports = try #require(line.range(of: "export ").map { line[$0.upperBound...] })
            let assignments = exports.prefix { $0 != ";" }.split(separator: " ")
            var env: [String: String] = [:]
            for assignment in assignments {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                try #require(parts.count == 2, "\(assignment)")
                env[parts[0]] = parts[1]
            }
            #expect(env.keys.contains { $0.hasSuffix("_BASE_URL") })
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-line-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let export = try await CLI.run(
                ["export", service, "-o", work.appendingPathComponent("a.tar").path], env: env)
            #expect(export.status == 0, "\(export.stderr)")
        } catch {
            failure = error
        }
        process.signal(SIGTERM)
        await process.wait()
        if let failure { throw failure }
    }
}
