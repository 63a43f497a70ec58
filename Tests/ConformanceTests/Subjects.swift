import Foundation
import Kinopio
import Kintone
import Kitemaker
import Kona
import KitbagConnector
import KitbagCore
import KitbagSandbox

extension ConformanceSubject {
    /// Every connector that has landed; the suite runs each test once per entry.
    static let all: [ConformanceSubject] = [kinopio, kintone, kitemaker, kona]

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

extension ConformanceSubject {
    static let kitemaker = ConformanceSubject(
        service: .kitemaker,
        startSandbox: { seed, credential, limits, faults, port in
            var o = options(seed: seed, credential: credential, limits: limits, faults: faults, port: port)
            o.penaltySeconds = limits ? 5 : 0.05
            // The demo export is six requests; this fault pattern puts resets and a 429 among them.
            o.faultSeed = ConformanceSubject.faultSeed ?? 17
            return try await KitemakerSandbox.start(o, logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KitemakerConnection(
                baseURL: sandbox.baseURL.absoluteString, environment: [KitemakerSchema.tokenVariable: credential],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["space", "status", "label", "workItem", "comment", "initiative", "feedback", "user"],
        volumeSeed: .generated(cards: 300),
        interruptAfterRequests: 40)
}

extension ConformanceSubject {
    static let kona = ConformanceSubject(
        service: .kona,
        startSandbox: { seed, credential, limits, faults, port in
            try await KonaSandbox.start(
                options(seed: seed, credential: credential, limits: limits, faults: faults, port: port), logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KonaConnection(
                baseURL: sandbox.baseURL.absoluteString, environment: ["KONA_ACCESS_TOKEN": credential],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["space", "conversation", "task", "calendarEvent", "comment", "user", "account"],
        volumeSeed: .generated(cards: 1500),
        interruptAfterRequests: 12)
}

extension ConformanceSubject {
    static let kintone = ConformanceSubject(
        service: .kintone,
        startSandbox: { seed, credential, limits, faults, port in
            try await KintoneSandbox.start(
                options(seed: seed, credential: credential, limits: limits, faults: faults, port: port), logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            // A login: API tokens can neither list nor create apps (cybozu.dev "APIトークンを使って操作できるAPI"),
            // and the suite exports everything and imports into an empty domain.
            try KintoneConnection(
                baseURL: sandbox.baseURL.absoluteString,
                environment: [
                    KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: credential,
                ],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["app", "formFields", "formLayout", "views", "processManagement", "record", "comment", "space"],
        volumeSeed: .generated(cards: 6000),
        interruptAfterRequests: 26)
}
