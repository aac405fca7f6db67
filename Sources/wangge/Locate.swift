import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

extension Wangge {
    struct Locate: ParsableCommand {
        static let configuration = CommandConfiguration(
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

        @Option(help: ArgumentHelp(tr("A CSV file with columns id,lon,lat for batch location.").rendered))
        var input: String?

        @OptionGroup var generationOption: GenerationOption

        func validate() throws {
            if input == nil && (lon == nil || lat == nil) { throw ValidationError(tr("give LON LAT, or --input FILE.csv").rendered) }
            if input != nil && (lon != nil || lat != nil) { throw ValidationError(tr("give either LON LAT or --input, not both").rendered) }
        }

        func run() throws {
            let service = try store.openService()
            let generation = try service.checkedGeneration(generationOption.generation)
            if let input {
                try BatchLocate(service: service, crs: crs, generation: generation).run(path: input)
                return
            }
            let answer = try service.locate(x: lon!, y: lat!, crs: crs, generation: generation)
            print(json ? try jsonText(answer) : Self.text(answer))
        }

        static func text(_ a: LocateAnswer) -> String {
            var lines: [String] = []
            let place = String(format: "%.7f, %.7f", a.wgs84[0], a.wgs84[1])
            lines.append("point     \(place) (WGS84)" + (a.input.crs == "EPSG:4326" ? "" : "  from \(a.input.x), \(a.input.y) in \(a.input.crs)"))
            if let grid = a.grid {
                lines.append("grid      \(grid)  \(a.gridName ?? "")")
                lines.append("village   \(a.village ?? "")  \(a.villageName ?? "")")
                lines.append("town      \(a.town ?? "")  \(a.townName ?? "")")
                lines.append("worker    \(a.worker?.name ?? "-")  \(a.worker?.phone ?? "")")
            } else {
                lines.append("grid      none: outside every grid")
            }
            lines.append("method    \(a.method.rawValue)")
            switch a.method {
            case .inside:
                lines.append("distance  " + (a.distanceM.map { String(format: "%.1f m inside the edge", $0) } ?? "deeper inside than the near-boundary distance"))
            case .boundary:
                lines.append("distance  0 m: exactly on the edge")
            case .nearest:
                lines.append("distance  " + String(format: "%.1f m outside the grid", a.distanceM ?? 0))
            case .none:
                if let nearest = a.nearestGrid, let d = a.distanceM {
                    lines.append("nearest   \(nearest) at " + String(format: "%.1f m", d))
                }
            }
            if let runnerUp = a.runnerUp {
                lines.append("runner-up \(runnerUp) at " + String(format: "%.1f m", a.runnerUpDistanceM ?? 0) + ": confirm the grid")
            }
            return lines.joined(separator: "\n")
        }
    }
}
