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
                let chunk = out.fileHandleForReading.availableData
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
        kill(process.processIdentifier, SIGTERM)
        await Exits.shared.wait(process)
        if let failure { throw failure }
        #expect(process.terminationStatus == 0)
    }
}
