import ArgumentParser
import Foundation
import KitbagArchive
import KitbagBackup
import KitbagConnector
import KitbagCore
import KitbagRender

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write readable renderings (html, markdown, rss, canvas) of an existing archive from its JSON.",
        discussion: """
            Reads the archive's JSON Lines (any archive kind, verified first) and renders them again. A folder \
            archive gets the files inside it and its manifest lists them, so `kitbag verify` still passes; for a \
            file archive (tar, tar.gz, tar.zst, zip) they go to the folder NAME-renderings beside it, laid out like \
            the archive root (extract the archive into that folder and attachment links resolve too). \
            Open html/index.html in any browser: no script, no network.
            """)

    @Argument(help: "The archive (tar, tar.gz, tar.zst, zip or folder).")
    var archive: String

    @Option(help: ArgumentHelp("Renderings to write: html, markdown, rss, canvas.", valueName: "LIST"))
    var formats: String = "html"

    @OptionGroup var global: GlobalOptions

    var wanted: [String] {
        formats.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if wanted.isEmpty { throw ValidationError("name at least one rendering with --formats (html, markdown, rss, canvas).") }
        for f in wanted where ReadableFormat(rawValue: f) == nil {
            throw ValidationError("unknown rendering '\(f)'; choose from html, markdown, rss, canvas (json is the archive itself).")
        }
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            let url: URL
            switch ArchiveTarget.classify(archive) {
            case .archive(let found): url = found
            case .missing: throw UserError("\(archive): no such file or folder; check the path", exitStatus: .failure)
            case .backupFolder:
                throw UserError("\(archive) is a folder of archives: render one of them (kitbag snapshots \(archive) lists them)", exitStatus: .usage)
            case .unrelatedFolder:
                throw UserError(
                    "\(archive) is a folder, but neither a kitbag archive (no kitbag.json) nor a folder of kitbag archives",
                    exitStatus: .failure)
            }
            let summary = try ArchiveRendering.render(
                url, formats: Set(wanted.compactMap(ReadableFormat.init(rawValue:))),
                descriptor: ServiceCatalog.descriptor)
            if global.json {
                try printJSON(summary)
            } else if !global.quiet {
                let what = "\(summary.formats.joined(separator: ", ")) for \(summary.containers) container\(summary.containers == 1 ? "" : "s")"
                let open = summary.formats.contains("html") ? "; open \(summary.output)/\(ReadablePaths.htmlIndex)" : ""
                if summary.insideArchive {
                    printText("rendered \(what) inside the folder archive \(summary.output) (its manifest lists them)\(open)\n")
                } else {
                    printText("rendered \(what) beside the archive, in \(summary.output)\(open) (attachment links resolve once the archive is extracted there)\n")
                }
            }
        }
    }
}
