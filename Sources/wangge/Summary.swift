import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore

extension Wangge {
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The county summary: per-town counts, unassigned and near-boundary points.")

        @OptionGroup var store: StoreOptions

        static func metres(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }

        func run() throws {
            let (gridStore, _) = try store.openStore()
            let generation = try gridStore.activeGeneration()
            let counts = try gridStore.pointCounts()
            let unassigned = try gridStore.unassignedCounts()
            let towns = try gridStore.statistics(by: .town)
            let villages = try gridStore.statistics(by: .village).count
            let grids = towns.reduce(0) { $0 + $1.grids }
            print("\(gridStore.database.path) · generation \(generation) · SpatiaLite \(try gridStore.database.spatialiteVersion()) · \(LibraryVersions.geometry)")
            print("\(towns.count) towns, \(villages) villages, \(grids) grids; "
                  + "\(counts[.households] ?? 0) households, \(counts[.cameras] ?? 0) cameras, \(counts[.incidents] ?? 0) incidents")
            print("")
            print(statisticsTable(towns, level: .town))
            print("")
            let missing = PointLayer.allCases.map { "\($0.table) \(unassigned[$0] ?? 0)" }.joined(separator: ", ")
            // The distances the stored assignments were made with, which the config may no longer say.
            let rules = try gridStore.generation(generation).rules ?? gridStore.rules
            print("unassigned (farther than \(Self.metres(rules.nearestToleranceMeters)) m from every grid): \(missing)")
            print("near a boundary (another grid within \(Self.metres(rules.nearBoundaryMeters)) m, dispatcher to confirm): \(towns.reduce(0) { $0 + $1.nearBoundary })")
            if rules != gridStore.rules {
                print("(assigned with nearest_tolerance_m \(Self.metres(rules.nearestToleranceMeters)), near_boundary_m \(Self.metres(rules.nearBoundaryMeters)); "
                      + "the config now says \(Self.metres(gridStore.rules.nearestToleranceMeters)) and \(Self.metres(gridStore.rules.nearBoundaryMeters)): re-import the grids or activate a generation to apply it)")
            }
        }
    }
}
