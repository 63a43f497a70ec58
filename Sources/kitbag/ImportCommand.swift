import ArgumentParser
import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Replay an archive into an account, journaled so a rerun never duplicates.",
        discussion: """
            The archive is verified before the first write; a bad archive is refused. Every created entity is \
            recorded (source id → target id) in a SQLite journal, by default ARCHIVE.journal.sqlite; rerun the same \
            command after a crash or Ctrl-C and it continues where it stopped.

            An archive of another service is migrated through kitbag's common item model: --map FILE says which \
            source field is the title, status or labels and how statuses map; --dry-run prints the plan. Every \
            migration writes import-report.json (what was created, and every attribute that could not be carried \
            with the reason), by default ARCHIVE.import-report.json beside the journal. An import of the service's own \
            archive writes the report too: what it created and what the service's API could not take.

            """ + ServiceCatalog.credentialHelp + "\n" + ServiceCatalog.optionHelp(for: .importArchive))

    @Argument(help: "The archive to import (any kind kitbag writes), or another file a service takes (\(ImportCommand.fileKinds)).")
    var archive: String

    @Option(name: .customLong("to"), help: "Service to import into: \(ServiceCatalog.names()).")
    var service: ServiceName

    /// `a JSON Canvas file (.canvas) to make a Kinopio space of`, for each file kind a service imports.
    static var fileKinds: String {
        ServiceCatalog.all.flatMap { entry in
            entry.descriptor.fileImports.map { "a \($0.name) file (.\($0.fileExtension)) into \(entry.descriptor.displayName)" }
        }.joined(separator: "; ")
    }

    @OptionGroup var connectionOptions: ConnectionOptions

    @Option(help: "Journal file (SQLite). Default: ARCHIVE.journal.sqlite beside the archive.")
    var journal: String?

    @Flag(help: "Show what would be created and how many requests it takes (for a migration: the plan); write nothing.")
    var dryRun = false

    @Option(
        name: .customLong("map"),
        help: ArgumentHelp("Migration: mapping.toml (title/status/labels fields, status renames, target containers).", valueName: "FILE"))
    var mapFile: String?

    @Option(help: "Where to write import-report.json (default: ARCHIVE.import-report.json beside the journal).")
    var report: String?

    @Option(help: "Entities per batch write request (default: the connector's, e.g. Kinopio 100).")
    var batchSize: Int?

    @Flag(help: "Create what the target lacks where the API allows it (Kitemaker has no route that creates statuses).")
    var createMissing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let b = batchSize, b < 1 || b > 1000 { throw ValidationError("--batch-size must be between 1 and 1000.") }
        try connectionOptions.validate(service, command: .importArchive)
        for pair in try containerPairs() where Self.split(pair) == nil {
            throw ValidationError("\(pair) is not SRC=DST (two ids joined by =).")
        }
    }

    /// The `SRC=DST` values of the service's container-map option (`--app-map`, `--space-map`).
    func containerPairs() throws -> [String] {
        let values = try connectionOptions.serviceOptions(service, command: .importArchive)
        return try ServiceCatalog.descriptor(service).options.filter { $0.role == .containerMap }.flatMap { values[$0.name] }
    }

    static func split(_ pair: String) -> (String, String)? {
        let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }

    func importOptions() throws -> ImportOptions {
        var map: [String: String] = [:]
        for (a, b) in try containerPairs().compactMap(Self.split) { map[a] = b }
        let values = try connectionOptions.serviceOptions(service, command: .importArchive)
        let updateKey = try ServiceCatalog.descriptor(service).options.first { $0.role == .updateKey }
            .flatMap { values.value($0.name) }
        return ImportOptions(
            dryRun: dryRun, batchSize: batchSize, containerMap: map, updateKey: updateKey, createMissing: createMissing)
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let started = Date()
            // The archive is looked at before the credentials: a wrong path is the first thing to hear about.
            guard FileManager.default.fileExists(atPath: archive) else {
                throw UserError("\(archive): no such file or folder; check the path of the archive", exitStatus: .failure)
            }
            let progress = global.progress
            let connector = try connectionOptions.connector(service, command: .importArchive, global: global, progress: progress)
            defer { Task { await connector.shutdown() } }
            let source = URL(fileURLWithPath: archive)
            let journalURL = journal.map { URL(fileURLWithPath: $0) }
            let options = try importOptions()
            let summary: ImportSummary
            // A file a service imports besides archives (a JSON Canvas): only into the service that takes it.
            let fileKind = source.pathExtension.lowercased()
            let takers = ServiceCatalog.descriptors.filter { $0.fileImports.contains { $0.fileExtension == fileKind } }
            let fileImport = connector.descriptor.fileImports.first { $0.fileExtension == fileKind }
            if fileImport == nil, let taker = takers.first {
                let name = taker.fileImports.first { $0.fileExtension == fileKind }?.name ?? fileKind
                throw UserError(
                    "a \(name) file imports into \(takers.map(\.displayName).joined(separator: " or ")) only: use --to \(taker.service.rawValue)",
                    exitStatus: .usage)
            }
            if fileImport == nil, let from = try? ArchiveInspector.summary(of: source).info?.service, from != service {
                try await migrate(from: from, source: source, into: connector, journalURL: journalURL, options: options)
                return
            }
            if mapFile != nil {
                throw UserError("--map is for migrations (an archive of another service than --to)", exitStatus: .usage)
            }
            if let fileImport {
                summary = try await fileImport.run(source, connector, journalURL, options, progress)
            } else {
                summary = try await ConnectorJobs.importArchive(
                    source, into: connector, journalURL: journalURL, options: options, progress: progress)
            }
            // Every import of an archive leaves import-report.json (a canvas file is not an archive).
            let reportURL = fileImport != nil
                ? nil
                : try MigrationJobs.writeDirectReport(
                    source, service: service, summary: summary, journalURL: journalURL,
                    reportURL: report.map { URL(fileURLWithPath: $0) })
            if global.json {
                try printJSON(summary)
            } else if !global.quiet {
                var msg = dryRun ? "dry run: would create \(formatCounts(summary.created))\n" : "imported into \(service.rawValue): \(formatCounts(summary.created))\n"
                if !summary.alreadyPresent.isEmpty { msg += "  already present from an earlier run: \(formatCounts(summary.alreadyPresent))\n" }
                if let sent = summary.unconfirmed, !sent.isEmpty {
                    msg += "  sent by the interrupted run, checked before writing (some may exist): \(formatCounts(sent))\n"
                }
                msg += "  requests: \(formatRequests(summary.requests, perRoute: global.verbose)) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s\n"
                msg += formatNotExported(summary.notImported, label: "not imported")
                if let reportURL { msg += "  report: \(reportURL.path)\n" }
                printText(msg)
            }
        }
    }

    /// An archive of another service: plan, import through the target's journaled importer, report.
    func migrate(from: ServiceName, source: URL, into connector: any Connector, journalURL: URL?, options: ImportOptions)
        async throws
    {
        guard let target = connector as? any MigrationTarget else {
            let targets = ServiceCatalog.descriptors.filter(\.acceptsMigrations).map(\.service.rawValue)
            throw UserError(
                "migrating \(from.rawValue) data into \(service.rawValue) is not supported yet; migration targets: \(targets.joined(separator: ", "))",
                exitStatus: .usage)
        }
        let mapping = try mapFile.map { try MappingConfig.load(URL(fileURLWithPath: $0)) } ?? MappingConfig()
        let result = try await MigrationJobs.migrate(
            source, source: try ServiceCatalog.descriptor(from).migration, into: target, mapping: mapping,
            journalURL: journalURL, reportURL: report.map { URL(fileURLWithPath: $0) }, options: options,
            progress: global.progress)
        if global.json {
            FileHandle.standardOutput.write(try result.encoded())
            return
        }
        guard !global.quiet else { return }
        var msg = dryRun
            ? "dry run: migration plan \(from.rawValue) → \(service.rawValue) (nothing written)\n"
            : "migrated \(from.rawValue) → \(service.rawValue): \(formatCounts(result.created))\n"
        if dryRun { msg += "  would create: \(formatCounts(result.created))\n" }
        if !result.alreadyPresent.isEmpty { msg += "  already present from an earlier run: \(formatCounts(result.alreadyPresent))\n" }
        for c in result.containers {
            msg += "  \(c.sourceKind) \(c.sourceID) “\(c.sourceTitle)” → \(c.targetExists ? "existing " : "")\(c.targetKind) “\(c.target)”: \(c.items) items\n"
            for a in c.carried where a.from != "title" || dryRun { msg += "    \(a.from) → \(a.to)\n" }
            for s in c.statuses { msg += "    status \(s.from) → \(s.to) (\(s.items))\n" }
            for l in c.notCarried { msg += "    not carried: \(l.attribute) (\(l.items)): \(l.reason)\n" }
        }
        for s in result.skipped { msg += "  skipped \(s.sourceID) “\(s.sourceTitle)” (\(s.items) items): \(s.reason)\n" }
        for n in result.notImported {
            msg += "  not imported: \(n.kind)\(n.container.map { " in \($0)" } ?? ""): \(n.reason)\n"
        }
        if !dryRun || report != nil {
            let url = report.map { URL(fileURLWithPath: $0) }
                ?? MigrationJobs.defaultReportURL(journal: journalURL ?? ConnectorJobs.defaultJournalURL(for: source))
            msg += "  report: \(url.path)\n"
        }
        printText(msg)
    }
}
