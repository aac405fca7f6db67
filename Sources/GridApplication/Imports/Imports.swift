import Foundation
import GeoFiles
import GeoKit
import GridCore
import GridStore

extension GridService {
    /// Imports a file of grids as the new active generation (one transaction): every stored point is assigned again.
    public func importGrids(path: String, _ options: GridFileOptions, generationName: String? = nil, force: Bool = false,
                            progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let report = try translatingErrors {
            try store.importGrids(path: path, options, generationName: generationName, dispatch: dispatchRules, thresholds: config.planning, force: force,
                                  progress: progress)
        }
        try refreshIfNeeded()
        return report
    }

    /// Starts a draft from a file of grids (read and validated as an import is), with its coverage problems.
    public func importDraft(path: String, _ options: GridFileOptions, name: String? = nil) throws -> (report: ImportReport, problems: [PlanProblem]) {
        try translatingErrors {
            let report = try store.importDraft(path: path, options, name: name)
            guard let draft = report.generation else { return (report, []) }
            return (report, try store.validate(draft, thresholds: config.planning))
        }
    }

    /// Imports households, cameras or incidents from a CSV file, each assigned to its grid.
    public func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84, encoding: TextEncoding? = nil,
                             progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        try translatingErrors {
            try store.importPoints(layer, path: path, crs: crs, encoding: encoding, dispatch: dispatchRules, columnNames: config.pointColumns,
                                   progress: progress)
        }
    }
}
