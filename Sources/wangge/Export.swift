import GridApplication
import ArgumentParser
import Foundation
import GeoFiles
import GridCore
import Localization

extension Wangge {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export",
            abstract: tr("Export grids, villages, towns, households, cameras, incidents, per-grid statistics or a draft's grids to a file.").rendered,
            discussion: tr("Formats: geojson, csv (UTF-8 with BOM; points as lon,lat columns, areas as WKT), xlsx, gpkg, shp (UTF-8 .dbf with .cpg; a .zip output gets the zipped Shapefile) and kml. The format is taken from --format, else from the --output file's extension. Text formats go to standard output without --output. Examples: `wangge export households --town 琼湖街道 --output 琼湖.xlsx`, `wangge export draft 2 --output draft.shp.zip`, `wangge export grids --format gpkg --output grids.gpkg`.").rendered)

        @OptionGroup var store: StoreOptions

        @Argument(help: ArgumentHelp(tr("grids, villages, towns, households, cameras, incidents, stats, or draft N.").rendered))
        var dataset: String

        @Argument(help: ArgumentHelp(tr("For draft: the draft's generation number (`wangge plan list`).").rendered))
        var generation: String?

        @Option(help: ArgumentHelp(tr("Only this town (code or name).").rendered))
        var town: String?

        @Option(help: ArgumentHelp(tr("Only this village (code or name).").rendered))
        var village: String?

        @Option(help: ArgumentHelp(tr("Only this grid (code).").rendered))
        var grid: String?

        @Option(help: ArgumentHelp(tr("geojson, csv, xlsx, gpkg, shp or kml (default: from the --output file's extension).").rendered))
        var format: String?

        @Option(help: ArgumentHelp(tr("The CRS of the file: EPSG:<code>, or metric for the county's Gauss-Krüger zone (default EPSG:4326; KML is always EPSG:4326).").rendered))
        var crs: String?

        @Option(help: ArgumentHelp(tr("The file to write (replaced if it exists); without it, text formats go to standard output.").rendered))
        var output: String?

        func run() throws {
            let dataset: ExportDataset
            // A positional argument: its name starts the message (there is no --dataset).
            do { dataset = try ExportDataset(name: self.dataset, generation: generation) } catch let error as ExportError {
                throw WanggeError(error.asWanggeError.kind, error.text)
            }
            let format = try ExportRequest.format(format, output: output)
            if output == nil, !format.isText { throw ExportError.binaryToStandardOutput(format.rawValue) }
            let request = try ExportRequest(dataset: dataset, scope: AreaScope(town: town, village: village, grid: grid), format: format, crs: crs)
            let service = try store.openService()
            // Written beside the output and moved into place at the end: a failed export leaves no half-written file.
            let outputDirectory = output.map { (($0 as NSString).deletingLastPathComponent as NSString).standardizingPath }
            let directory = try ExportDirectory(in: outputDirectory.map { $0.isEmpty ? "." : $0 })
            let zipped = format == .shp && (output?.lowercased().hasSuffix(".zip") ?? false)
            let written = directory.file(dataset.name + "." + (zipped ? "shp.zip" : format.fileExtension))
            let result: ExportResult
            do { result = try service.export(request, to: written) } catch let error as WanggeError where error.field == "dataset" {
                throw WanggeError(error.kind, tr("dataset: \(error.text)"))
            }
            guard let output else {
                FileHandle.standardOutput.write(try Data(contentsOf: URL(fileURLWithPath: result.path)))
                return
            }
            try Self.move(result.path, to: output, shapefileParts: format == .shp && !zipped)
            printError(tr("\(result.records) \(dataset.name) written to \(output) (\(format.rawValue), EPSG:\(result.epsg))").rendered)
        }

        /// Moves the written file to `output`, replacing one there; a Shapefile's parts go beside it under its name.
        static func move(_ written: String, to output: String, shapefileParts: Bool) throws {
            let manager = FileManager.default
            var moves = [(written, output)]
            if shapefileParts {
                let base = (written as NSString).deletingPathExtension
                let target = (output as NSString).deletingPathExtension
                for ext in ["shx", "dbf", "prj", "cpg"] where manager.fileExists(atPath: "\(base).\(ext)") {
                    moves.append(("\(base).\(ext)", "\(target).\(ext)"))
                }
            }
            for (from, to) in moves {
                // rename(2) replaces an existing file in one step.
                guard rename(from, to) == 0 else {
                    throw WanggeError.invalid(tr("output: cannot write \(to): \(String(cString: strerror(errno)))"), field: "output")
                }
            }
        }
    }
}
