import Foundation
import KitbagCore
import Logging
import Testing

/// Shared helpers for the Kona connector tests: real sandboxes on 127.0.0.1, real archives in temp folders.
enum Fixture {
    static let logger: Logger = {
        var l = Logger(label: "kitbag.tests.kona")
        l.logLevel = .warning
        return l
    }()

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-kona-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
