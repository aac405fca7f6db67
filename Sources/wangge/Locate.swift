import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

extension Wangge {
    struct Locate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "locate",
            abstract: tr("Find the grid, village, town and worker for a point, or for every row of a CSV file.").rendered,
            discussion: tr("Single point: wangge locate LON LAT [--crs gcj02] [--json]\nBatch: wangge locate --input POINTS.csv [--crs …] reads columns id,lon,lat and writes id,grid,method,distance_m,runner_up to standard output, one line per input row, in input order.").rendered)

        @OptionGroup var store: StoreOptions

        @Argument(help: ArgumentHelp(tr("Longitude (or x in a projected CRS).").rendered))
        var lon: Double?

        @Argument(help: ArgumentHelp(tr("Latitude (or y).").rendered))
        var lat: Double?

        @Option(help: ArgumentHelp(tr("CRS of the input: EPSG:<code>, gcj02 or bd09.").rendered))
        var crs: CoordinateSystem = .wgs84

        @Flag(help: ArgumentHelp(tr("Print one JSON object.").rendered))
        var json = false

        @Option(help: ArgumentHelp(tr("A CSV file with columns id,lon,lat for batch location (or x,y; or 编号,经度,纬度 and the other names an import takes), or an Excel workbook or GeoJSON points as an import reads them.").rendered))
        var input: String?

        @OptionGroup var generationOption: GenerationOption

        func validate() throws {
            if input == nil && (lon == nil || lat == nil) { throw ValidationError(tr("give LON LAT, or --input FILE.csv").rendered) }
            if input != nil && (lon != nil || lat != nil) { throw ValidationError(tr("give either LON LAT or --input, not both").rendered) }
        }

        func run() throws {
            if let input {
                // The store opens on a worker while the others read the rows; `run` waits for them.
                let store = store
                let generation = generationOption.generation
                try BatchLocate(crs: crs, columnNames: try store.loadConfig().pointColumns) {
                    let service = try store.openService()
                    return try service.loaded(generation: try service.checkedGeneration(generation)).assigner
                }.run(path: input)
                return
            }
            let service = try store.openService()
            let generation = try service.checkedGeneration(generationOption.generation)
            let answer = try service.locate(x: lon!, y: lat!, crs: crs, generation: generation)
            print(json ? try jsonText(answer) : Self.text(answer))
        }

        static func text(_ a: LocateAnswer) -> String {
            var rows: [(label: Localized, value: String)] = []
            let place = String(format: "%.7f, %.7f", a.wgs84[0], a.wgs84[1])
            rows.append((tr("point"), (a.input.crs == "EPSG:4326" ? tr("\(place) (WGS84)")
                                       : tr("\(place) (WGS84)  from \(a.input.x), \(a.input.y) in \(a.input.crs)")).rendered))
            if let grid = a.grid {
                rows.append((tr("grid"), "\(grid)  \(a.gridName ?? "")"))
                rows.append((tr("village"), "\(a.village ?? "")  \(a.villageName ?? "")"))
                rows.append((tr("town"), "\(a.town ?? "")  \(a.townName ?? "")"))
                rows.append((tr("worker"), "\(a.worker?.name ?? "-")  \(a.worker?.phone ?? "")"))
            } else {
                rows.append((tr("grid"), tr("none: outside every grid").rendered))
            }
            // The reader's words, and the code CSV and JSON carry beside them where the two differ.
            let words = a.method.text.rendered
            rows.append((tr("method"), words == a.method.rawValue ? words : tr("\(words) (\(a.method.rawValue))").rendered))
            let metres = { (value: Double) in String(format: "%.1f", value) }
            switch a.method {
            case .inside:
                rows.append((tr("distance"), (a.distanceM.map { tr("\(metres($0)) m inside the edge") } ?? tr("deeper inside than the near-boundary distance")).rendered))
            case .boundary:
                rows.append((tr("distance"), tr("0 m: exactly on the edge").rendered))
            case .nearest:
                rows.append((tr("distance"), tr("\(metres(a.distanceM ?? 0)) m outside the grid").rendered))
            case .none:
                if let nearest = a.nearestGrid, let d = a.distanceM {
                    rows.append((tr("nearest"), tr("\(nearest) at \(metres(d)) m").rendered))
                }
            }
            if let runnerUp = a.runnerUp {
                rows.append((tr("runner-up"), tr("\(runnerUp) at \(metres(a.runnerUpDistanceM ?? 0)) m: confirm the grid").rendered))
            }
            return labelledLines(rows)
        }
    }
}
