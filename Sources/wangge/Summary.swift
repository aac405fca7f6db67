import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

extension Wangge {
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "summary", abstract: tr("The county summary: per-town counts, unassigned and near-boundary points.").rendered)

        @OptionGroup var store: StoreOptions

        static func metres(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }

        func run() throws {
            let summary = try store.openService().summary()
            let (towns, counts, unassigned, rules) = (summary.towns, summary.points, summary.unassigned, summary.assignedWith)
            let grids = towns.reduce(0) { $0 + $1.grids }
            print(tr("\(summary.location) · generation \(summary.generation) · \(summary.engine) · \(LibraryVersions.geometry)").rendered)
            print(tr("\(towns.count) towns, \(summary.villages) villages, \(grids) grids; \(counts[.households] ?? 0) households, \(counts[.cameras] ?? 0) cameras, \(counts[.incidents] ?? 0) incidents").rendered)
            print("")
            print(statisticsTable(towns, level: .town))
            print("")
            let missing = tr("households \(unassigned[.households] ?? 0), cameras \(unassigned[.cameras] ?? 0), incidents \(unassigned[.incidents] ?? 0)")
            print(tr("unassigned (farther than \(Self.metres(rules.nearestToleranceMeters)) m from every grid): \(missing)").rendered)
            print(tr("near a boundary (another grid within \(Self.metres(rules.nearBoundaryMeters)) m, dispatcher to confirm): \(towns.reduce(0) { $0 + $1.nearBoundary })").rendered)
            let now = summary.configured
            if rules != now {
                print(tr("(assigned with nearest_tolerance_m \(Self.metres(rules.nearestToleranceMeters)), near_boundary_m \(Self.metres(rules.nearBoundaryMeters)); the config now says \(Self.metres(now.nearestToleranceMeters)) and \(Self.metres(now.nearBoundaryMeters)): re-import the grids or activate a generation to apply it)").rendered)
            }
        }
    }
}
