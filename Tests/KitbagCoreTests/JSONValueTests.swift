import Foundation
import Testing

@testable import KitbagCore

@Suite struct JSONValueTests {
    @Test func keyOrderAndNumberLiteralsSurviveARoundTrip() throws {
        let text = #"{"z":1,"a":[1.50,-0,2e10,{"k":null}],"m":"caf\u00e9 \ud83d\ude00","t":true,"u":{"x":"y"}}"#
        let v = try JSONValue(parsing: text)
        #expect(v.serializedString() == #"{"z":1,"a":[1.50,-0,2e10,{"k":null}],"m":"café 😀","t":true,"u":{"x":"y"}}"#)
        #expect(v["z"]?.intValue == 1)
        #expect(v.objectValue?.keys == ["z", "a", "m", "t", "u"])
    }

    @Test func controlCharactersAndQuotesAreEscapedSoEveryValueStaysOneLine() throws {
        let v: JSONValue = ["s": .string("a\nb\"c\\d\u{01}\te")]
        let out = v.serializedString()
        #expect(!out.contains("\n"))
        #expect(out == #"{"s":"a\nb\"c\\d\u0001\te"}"#)
        #expect(try JSONValue(parsing: out) == v)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\"}", "tru", "01", "1.", "\"\u{01}\"", "{\"a\":1}x", "\"\\x\"", "[1 2]",
    ])
    func malformedInputIsRejectedWithAnOffset(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func absurdNestingIsRefusedInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        #expect(error?.reason.contains("nesting") == true)
    }

    @Test func removingAKeyKeepsTheOrderOfTheOthers() throws {
        var v = try JSONValue(parsing: #"{"a":1,"b":2,"c":3}"#)
        v["b"] = nil
        v["d"] = "x"
        #expect(v.serializedString() == #"{"a":1,"c":3,"d":"x"}"#)
    }
}

@Suite struct ArchivePathTests {
    @Test func idsCannotClimbOutOfTheirFolder() {
        #expect(ArchivePath.component("..") == "%2E%2E")
        #expect(ArchivePath.component(".") == "%2E")
        #expect(ArchivePath.component("a/../b") == "a%2F..%2Fb")
        #expect(ArchivePath.component("") == "%")
        #expect(ArchivePath.component("héllo wörld") == "h%C3%A9llo%20w%C3%B6rld")
        for raw in ["..", "a/b", "", "héllo", "x%y"] {
            #expect(ArchivePath.decodeComponent(ArchivePath.component(raw)) == raw)
        }
    }

    @Test func redactorRemovesEverySecret() {
        #expect(Redactor.redact("key=abcd1234 and abcd1234", secrets: ["abcd1234"]) == "key=[redacted] and [redacted]")
    }
}

@Suite struct TimestampTests {
    // Expected values checked with GNU date -u -d @SECONDS.
    @Test func civilFieldsMatchKnownInstantsIncludingLeapDaysAndTimesBefore1970() {
        #expect(Timestamp.civil(secondsSince1970: 0) == .init(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 4))
        #expect(Timestamp.civil(secondsSince1970: -1) == .init(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, weekday: 3))
        #expect(Timestamp.civil(secondsSince1970: 951_782_400) == .init(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0, weekday: 2))
        #expect(Timestamp.civil(secondsSince1970: 1_795_389_045) == .init(year: 2026, month: 11, day: 22, hour: 23, minute: 10, second: 45, weekday: 0))
    }
}
