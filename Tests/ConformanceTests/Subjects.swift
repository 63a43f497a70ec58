import Foundation
import Kinopio
import KitbagConnector
import KitbagCore
import KitbagSandbox

extension ConformanceSubject {
    /// Every connector that has landed; the suite runs each test once per entry.
    static let all: [ConformanceSubject] = [kinopio]

    static let kinopio = ConformanceSubject(
        service: .kinopio,
        startSandbox: { seed, credential, limits, faults, port in
            var o = options(seed: seed, credential: credential, limits: limits, faults: faults, port: port)
            o.penaltySeconds = limits ? 30 : 0.05
            return try await KinopioSandbox.start(o, logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KinopioConnection(
                baseURL: sandbox.baseURL.absoluteString, apiKey: credential, environment: [:], rateLimited: paced,
                retry: retry, logger: logger)
        },
        demoKinds: ["space", "card", "connection", "connectionType", "box", "tag", "removedCard", "user"],
        volumeSeed: .generated(cards: 1500),
        interruptAfterRequests: 20)
}
