import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// Checks point records batch by batch as an import reads them: ids across the
/// whole file (a duplicate is one whatever batch it falls in), everything else
/// on every core. Problems are kept in file order, the first 20 with their
/// places and a count of the rest (`ProblemList`).
struct PointValidator {
    let layer: PointLayer
    let crs: CoordinateSystem
    let source: String
    let dispatch: DispatchRules
    private var firstLocationOfID: [String: RecordLocation] = [:]
    private var problems: ProblemList
    private var seen = 0

    init(layer: PointLayer, crs: CoordinateSystem, source: String, dispatch: DispatchRules) throws {
        (self.layer, self.crs, self.source, self.dispatch) = (layer, crs, source, dispatch)
        problems = ProblemList(source: source)
        // Converters are lent per slice; take one here so that a bad CRS fails once, plainly.
        do {
            try WGS84ConverterCache.shared.withConverter(from: crs) { _ in }
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("\(source): crs \(crs): \(error.text)"))
        }
    }

    /// Whether no problem has been found so far.
    var isClean: Bool { problems.total == 0 }

    /// The batch's good records, in file order; its problems are kept for `finish`.
    mutating func validate(_ inputs: [PointFileRecord]) throws -> [PointRecord] {
        seen += inputs.count
        var found: [(index: Int, message: Localized)] = []
        var idIsFine = [Bool](repeating: false, count: inputs.count)
        for (index, input) in inputs.enumerated() {
            guard let id = input.id, !id.isEmpty else {
                found.append((index, tr("\(input.location): field id: missing")))
                continue
            }
            if let problem = TextLimits.problem(id, limit: TextLimits.code) {
                found.append((index, tr("\(input.location): field id: \(TextLimits.shown(id)) \(problem)")))
                continue
            }
            if let first = firstLocationOfID[id] {
                found.append((index, tr("\(input.location): field id: duplicate id \(id), also at \(first)")))
                continue
            }
            firstLocationOfID[id] = input.location
            idIsFine[index] = true
        }
        let (layer, crs, dispatch, checked) = (layer, crs, dispatch, idIsFine)
        let slices = try mapSlicesInParallel(count: inputs.count, sliceLength: 8_192) { range in
            // Lent per slice, not built: a build searches PROJ's database (a tenth of a second for a Gauss-Krüger zone).
            try WGS84ConverterCache.shared.withConverter(from: crs) { converter in
                var records: [PointRecord] = []
                var found: [(index: Int, message: Localized)] = []
                records.reserveCapacity(range.count)
                for index in range where checked[index] {
                    switch Self.record(inputs[index], layer: layer, converter: converter, dispatch: dispatch) {
                    case .success(let record): records.append(record)
                    case .failure(let problem): found.append((index, problem.message))
                    }
                }
                return (records, found)
            }
        }
        for problem in (found + slices.flatMap(\.1)).sorted(by: { $0.index < $1.index }) { problems.add(problem.message) }
        return slices.flatMap(\.0)
    }

    /// Throws the problems found in the whole file, if any.
    mutating func finish() throws {
        if seen == 0 { problems.add(tr("no records")) }
        try problems.throwIfAny()
    }

    private struct Problem: Error { let message: Localized }

    /// One record with an id already checked: its coordinates and attributes.
    private static func record(_ input: PointFileRecord, layer: PointLayer, converter: WGS84Converter,
                               dispatch: DispatchRules) -> Result<PointRecord, Problem> {
        let id = input.id ?? ""
        guard let xText = input.x, !xText.isEmpty, let yText = input.y, !yText.isEmpty else {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): missing coordinate")))
        }
        guard let x = FieldCheck.decimal(xText) else {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): field lon/x: \(TextLimits.shown(xText)) is not a number (write it in decimal, e.g. 112.36)")))
        }
        guard let y = FieldCheck.decimal(yText) else {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): field lat/y: \(TextLimits.shown(yText)) is not a number (write it in decimal, e.g. 28.84)")))
        }
        do {
            let p = try converter.toWGS84(x: x, y: y)
            let values = try GridStore.attributes(layer, input.fields, dispatch: dispatch)
            return .success(PointRecord(location: input.location, id: id, source: (x, y), position: LonLat(p.lon, p.lat), values: values))
        } catch let error as GeoError {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): \(error.text)")))
        } catch let error as WanggeError {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): \(error.text)")))
        } catch {
            return .failure(Problem(message: tr("\(input.location) (id \(id)): \(error)")))
        }
    }
}
