import Foundation
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagBackup

/// restic's forget rules on tables of dates (expected sets worked out by hand from restic's algorithm).
@Suite struct RetentionTests {
    static func date(_ text: String) -> Date { Timestamp.parseCompact(text)! }

    static func kept(_ policy: RetentionPolicy, _ stamps: [String]) -> [String] {
        policy.apply(to: stamps.map { (item: $0, time: date($0)) }).filter(\.keep).map(\.item)
    }

    // Two backups a day (03:00 and 15:00) from 2026-01-01 to 2026-03-31, newest first when kept.
    static let twiceDaily: [String] = {
        var out: [String] = []
        var t = date("20260101T030000Z")
        while t <= date("20260331T150000Z") {
            out.append(Timestamp.compact(t))
            t += 12 * 3_600
        }
        return out
    }()

    @Test func keepLastKeepsTheNewestN() {
        #expect(Self.kept(RetentionPolicy(last: 3), Self.twiceDaily) == ["20260331T150000Z", "20260331T030000Z", "20260330T150000Z"])
    }

    @Test func keepDailyKeepsTheNewestOfEachOfTheLastNDays() {
        #expect(
            Self.kept(RetentionPolicy(daily: 3), Self.twiceDaily) == ["20260331T150000Z", "20260330T150000Z", "20260329T150000Z"])
    }

    @Test func keepWeeklyUsesISOWeeksAndKeepsTheNewestOfEach() {
        // 2026-03-31 is a Tuesday in ISO week 14; week 13 ends Sunday 2026-03-29; week 12 ends 2026-03-22.
        #expect(
            Self.kept(RetentionPolicy(weekly: 3), Self.twiceDaily) == ["20260331T150000Z", "20260329T150000Z", "20260322T150000Z"])
    }

    @Test func keepMonthlyWithPeriodsLeftAlsoKeepsTheOldestBackup() {
        // Only three months hold backups; the fourth count is spent on the oldest backup, as restic does.
        #expect(
            Self.kept(RetentionPolicy(monthly: 4), Self.twiceDaily)
                == ["20260331T150000Z", "20260228T150000Z", "20260131T150000Z", "20260101T030000Z"])
    }

    @Test func rulesCombineAndABackupKeptByTwoRulesCountsForBoth() {
        let decisions = RetentionPolicy(last: 2, daily: 2, monthly: 2).apply(
            to: Self.twiceDaily.map { (item: $0, time: Self.date($0)) })
        let kept = decisions.filter(\.keep)
        #expect(kept.map(\.item) == ["20260331T150000Z", "20260331T030000Z", "20260330T150000Z", "20260228T150000Z"])
        #expect(kept[0].reasons == ["last", "daily", "monthly"])
        #expect(kept[1].reasons == ["last"])
        #expect(kept[2].reasons == ["daily"])
        #expect(kept[3].reasons == ["monthly"])
        #expect(decisions.count == Self.twiceDaily.count)
    }

    @Test func minusOneKeepsEveryPeriod() {
        let stamps = ["20250102T000000Z", "20250101T120000Z", "20250101T000000Z", "20241231T230000Z"]
        #expect(Self.kept(RetentionPolicy(daily: -1), stamps) == ["20250102T000000Z", "20250101T120000Z", "20241231T230000Z"])
        #expect(Self.kept(RetentionPolicy(yearly: -1), stamps) == ["20250102T000000Z", "20241231T230000Z"])
    }

    @Test func yearlyAcrossTheISOWeekYearBoundaryUsesCalendarYears() {
        // 2024-12-30 belongs to ISO week 1 of 2025 but to calendar year 2024.
        let stamps = ["20250105T000000Z", "20241230T000000Z", "20241229T000000Z"]
        #expect(Self.kept(RetentionPolicy(yearly: 2), stamps) == ["20250105T000000Z", "20241230T000000Z"])
        #expect(Self.kept(RetentionPolicy(weekly: 1), stamps) == ["20250105T000000Z"])
    }

    @Test func anEmptyPolicyIsRefusedByPrune() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-prune-\(UUID().uuidString)")
        defer { Scratch.remove(dir) }
        #expect(throws: UserError.self) { try PruneJob.run(BackupFolder(dir), policy: RetentionPolicy(), dryRun: false) }
    }

    @Test func pruneRemovesExactlyWhatThePolicyDropsPerAccountAndKeepsOtherFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-prune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { Scratch.remove(dir) }
        let a = ["20260101T030000Z", "20260102T030000Z", "20260102T150000Z", "20260103T030000Z"]
        for s in a {
            try Data("x".utf8).write(to: dir.appendingPathComponent("kinopio-alice-\(s).tar.zst"))
        }
        // Another account's archives and an unrelated file are judged separately / left alone.
        try Data("x".utf8).write(to: dir.appendingPathComponent("kinopio-bob-20251201T000000Z.tar.zst"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("README.txt"))

        let dry = try PruneJob.run(BackupFolder(dir), policy: RetentionPolicy(last: 1, daily: 2), dryRun: true)
        #expect(dry.filter { !$0.keep }.map(\.archive) == ["kinopio-alice-20260102T030000Z.tar.zst", "kinopio-alice-20260101T030000Z.tar.zst"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.count == 6, "a dry run removes nothing")

        _ = try PruneJob.run(BackupFolder(dir), policy: RetentionPolicy(last: 1, daily: 2), dryRun: false)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(
            left == [
                "README.txt", "kinopio-alice-20260102T150000Z.tar.zst", "kinopio-alice-20260103T030000Z.tar.zst",
                "kinopio-bob-20251201T000000Z.tar.zst",
            ])
    }

    @Test func backupNamesParseAndOthersAreIgnored() {
        let good = BackupArchive.parse(URL(fileURLWithPath: "/b/kintone-example.kintone.com-20261122T221500Z.tar.gz"))
        #expect(good?.service == .kintone)
        #expect(good?.account == "example.kintone.com")
        #expect(good?.format == .tarGz)
        #expect(good?.time == Self.date("20261122T221500Z"))
        #expect(BackupArchive.parse(URL(fileURLWithPath: "/b/kona-x-20261122T221500Z"))?.format == .folder)
        for bad in ["notes.txt", "kinopio-20261122T221500Z.tar", "jira-x-20261122T221500Z.tar", "kinopio-x-20261399T000000Z.tar",
                    "kinopio-x-20261122T221500Z.tar.zst.partial"] {
            #expect(BackupArchive.parse(URL(fileURLWithPath: "/b/\(bad)")) == nil, "\(bad)")
        }
    }
}
