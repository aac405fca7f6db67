import Foundation
import GeoKit
import Localization

/// Edits a plan's grids with GEOS: split, merge, reshape, move, worker.
/// Each edit re-tiles the grids around it from one noded partition (the
/// boundaries of the grids involved and the new lines, polygonized), so
/// grids that share an edge keep sharing its vertices and no sliver opens.
/// Each edit returns a `PlanEdit`; `apply` makes it part of `plan` for the
/// next edit. Owns its GEOS context: one thread.
public final class PlanEditor {
    public private(set) var plan: BoundaryPlan
    let geos: GEOSContext
    private var shapes: [String: Geometry] = [:]

    /// How far a cut line is kept beyond the grid it cuts (degrees, about 1 cm),
    /// so that the noder sees it cross the grid's edge; the stub is dropped as a dangle.
    static let overshootDegrees = 1e-7

    public init(plan: BoundaryPlan) throws {
        self.plan = plan
        geos = try GEOSContext()
    }

    /// Makes `edit` part of the plan, so that later edits start from it.
    public func apply(_ edit: PlanEdit) throws {
        plan = try plan.applying(edit, context: geos)
        for code in edit.removed { shapes[code] = nil }
        for grid in edit.changed { shapes[grid.info.code] = nil }
    }

    /// Applies `edit` and returns it, for a one-edit `GridStore.editDraft`.
    public func applied(_ edit: PlanEdit) throws -> PlanEdit {
        try apply(edit)
        return edit
    }

    /// A WKB geometry read into this editor's GEOS context.
    public func geometry(wkb: [UInt8]) throws -> Geometry {
        try Geometry(wkb: wkb, context: geos)
    }

    // MARK: Edits

    /// Cuts a grid in two along a line that crosses it from edge to edge.
    /// Both pieces get new codes under the grid's village; the larger keeps the worker.
    public func split(_ code: String, along lineWKB: [UInt8]) throws -> PlanEdit {
        let shape = try shape(code)
        let line = try input(lineWKB, as: [.lineString, .multiLineString], "split \(code): the cut")
        let cut = try line.intersection(try shape.buffer(Self.overshootDegrees))
        guard try !cut.isEmpty else { throw WanggeError.refused(tr("split \(code): the line does not cross grid \(code)")) }
        let around = try codes(touching: shape)
        let faces = try faces(of: around, lines: [cut])
        let pieces = faces.filter { $0.owner == code }.map(\.geometry)
        guard pieces.count == 2 else {
            if pieces.count < 2 {
                throw WanggeError.refused(tr("split \(code): the line does not cut grid \(code) from edge to edge (it must cross the grid's boundary on both sides)"))
            }
            throw WanggeError.refused(tr("split \(code): the line cuts grid \(code) into \(pieces.count) pieces; a split makes two: draw a line that crosses the grid once"))
        }
        return try divide(code, into: pieces.map { [$0] }, faces: faces, around: around, verb: tr("split"))
    }

    /// Joins grids of one village that border each other into one grid with a
    /// new code; the first grid's worker keeps it.
    public func merge(_ codes: [String]) throws -> PlanEdit {
        guard codes.count >= 2 else { throw WanggeError.refused(tr("merge: give at least two grids")) }
        if let repeated = codes.first(where: { c in codes.filter { $0 == c }.count > 1 }) {
            throw WanggeError.refused(tr("merge: grid \(repeated) is listed twice"))
        }
        let grids = try codes.map(requireGrid)
        let village = grids[0].info.villageCode
        if let other = grids.first(where: { $0.info.villageCode != village }) {
            throw WanggeError.refused(tr("merge: grid \(other.info.code) is in village \(other.info.villageCode), grid \(codes[0]) in \(village); only grids of one village merge (move \(other.info.code) to village \(village) first)"))
        }
        let geometries = try codes.map(shape)
        // Every grid must be reachable from the first through shared borders.
        var reached: Set<Int> = [0]
        var frontier = [0]
        while let i = frontier.popLast() {
            for j in geometries.indices where !reached.contains(j) {
                if try Geodesic.sharedBorderLength(geometries[i], geometries[j]) > 0 {
                    reached.insert(j)
                    frontier.append(j)
                }
            }
        }
        if let apart = geometries.indices.first(where: { !reached.contains($0) }) {
            throw WanggeError.refused(tr("merge: grid \(codes[apart]) shares no border with the other grids; merged grids must form one piece"))
        }
        let union = try Geometry.collection(.geometryCollection, geometries, context: geos).unaryUnion().asMultiPolygon()
        var info = grids[0].info
        info.code = newCode(village: village, base: codes[0], taken: [])
        info.name = name(code: info.code, villageName: info.villageName)
        info.areaSquareMetres = try Geodesic.area(of: union)
        let merged = PlanGrid(info: info, wkb: try union.wkb())
        return PlanEdit(removed: codes, changed: [merged], region: merged.wkb,
                        summary: tr("merged \(codes.joined(separator: ", ")) into \(info.code) \(info.name) (\(Self.km2(info.areaSquareMetres!)))").rendered,
                        notes: [tr("\(info.code) keeps the worker of \(codes[0]): \(Self.worker(info.workerName))").rendered])
    }

    /// Gives a grid a new shape. Area the shape takes is taken from the grids
    /// that had it; area the grid gives up goes, piece by piece, to the
    /// neighbour sharing the longest border with the piece. A piece with no
    /// such neighbour would be a gap: the edit is refused, naming it.
    public func reshape(_ code: String, to polygonWKB: [UInt8]) throws -> PlanEdit {
        let before = try shape(code)
        let target = try input(polygonWKB, as: [.polygon, .multiPolygon], "reshape \(code): the new shape")
        let validity = try target.validity()
        guard validity.isValid else {
            let place = validity.location.map { " at lon \($0.x), lat \($0.y)" } ?? ""
            throw WanggeError.refused(tr("reshape \(code): the new shape is not a valid polygon: \(validity.reason ?? "invalid")\(place)"))
        }
        guard try target.intersects(before) else {
            throw WanggeError.refused(tr("reshape \(code): the new shape does not overlap the grid's current shape (wrong place or CRS?)"))
        }
        let county = try PreparedGeometry(try geometry(wkb: plan.county))
        let preparedTarget = try PreparedGeometry(target)
        let around = try codes(touching: try before.union(target))
        let faces = try faces(of: around, lines: [try target.boundary()])
        var assigned: [String: [Geometry]] = [:]
        var givenUp: [Geometry] = []
        var taken: [String: Double] = [:]
        var clipped = 0.0
        for face in faces {
            if try preparedTarget.contains(face.probe) {
                // Inside the county (a grid's, or a gap's) the face is the grid's; outside, it is cut off.
                if face.owner != nil, face.owner != code {
                    taken[face.owner!, default: 0] += try Geodesic.area(of: face.geometry)
                }
                if try face.owner != nil || county.contains(face.probe) {
                    assigned[code, default: []].append(face.geometry)
                } else {
                    clipped += try Geodesic.area(of: face.geometry)
                }
            } else if let owner = face.owner {
                if owner == code { givenUp.append(face.geometry) } else { assigned[owner, default: []].append(face.geometry) }
            }
        }
        guard assigned[code] != nil else { throw WanggeError.refused(tr("reshape \(code): the new shape lies outside the county")) }
        if let swallowed = around.first(where: { $0 != code && assigned[$0] == nil }) {
            throw WanggeError.refused(tr("reshape \(code): the new shape covers all of grid \(swallowed); merge the grids instead"))
        }
        var notes: [String] = []
        for (other, area) in taken.sorted(by: { $0.key < $1.key }) {
            notes.append(tr("takes \(Self.km2(area)) from \(other)").rendered + villageNote(other, code))
        }
        if clipped > PlanThresholds.noiseSquareMetres {
            notes.append(tr("\(Self.km2(clipped)) of the new shape lies outside the county and was left out").rendered)
        }
        if !givenUp.isEmpty {
            let pieces = try union(givenUp).polygons()
            var neighbourShapes: [String: Geometry] = [:]
            for other in around where other != code { neighbourShapes[other] = try union(assigned[other]!) }
            for piece in pieces {
                let area = try Geodesic.area(of: piece)
                var best: (code: String, length: Double)?
                for (other, shape) in neighbourShapes.sorted(by: { $0.key < $1.key }) {
                    let length = try Geodesic.sharedBorderLength(piece, shape)
                    if length > (best?.length ?? 0) { best = (other, length) }
                }
                guard let best else {
                    let p = try piece.pointOnSurface().pointCoordinates
                    throw WanggeError.refused(tr("reshape \(code): the grid would give up \(Self.km2(area)) at lon \(PlanProblem.degrees(p.x)), lat \(PlanProblem.degrees(p.y)) that borders no other grid, leaving a gap; include it in the new shape, or reshape a neighbour to take it"))
                }
                assigned[best.code]!.append(piece)
                notes.append(tr("gives \(Self.km2(area)) to \(best.code) (the longest shared border, \(Int(best.length.rounded())) m)").rendered + villageNote(best.code, code))
            }
        }
        var changed: [PlanGrid] = []
        for other in around {
            guard let shape = try rebuilt(other, from: assigned[other]!) else { continue }
            var grid = try requireGrid(other)
            grid.wkb = try shape.wkb()
            grid.info.areaSquareMetres = try Geodesic.area(of: shape)
            changed.append(grid)
            let parts = try shape.polygons().count
            if other != code, parts > 1 { notes.append(tr("\(other) is now in \(parts) separate parts").rendered) }
        }
        let after = changed.first { $0.info.code == code }
        let region = try before.union(try geometry(wkb: after?.wkb ?? (try before.wkb())))
        let area = after?.info.areaSquareMetres ?? plan.grid(code)?.info.areaSquareMetres ?? 0
        return PlanEdit(removed: [], changed: changed, region: try region.wkb(),
                        summary: tr("reshaped \(code) (\(Self.km2(area)))").rendered, notes: notes)
    }

    /// Moves a grid to another village (and that village's town): it gets a
    /// new code under the village; shape and worker stay.
    public func move(_ code: String, toVillage village: String) throws -> PlanEdit {
        var grid = try requireGrid(code)
        guard let target = plan.villages[village] else {
            throw WanggeError.refused(tr("move \(code): no village \(village) in the draft"))
        }
        guard grid.info.villageCode != village else { throw WanggeError.refused(tr("move \(code): the grid is already in village \(village)")) }
        grid.info.villageCode = village
        grid.info.villageName = target.name
        grid.info.townCode = target.townCode
        grid.info.townName = plan.towns[target.townCode]?.name ?? target.townCode
        grid.info.code = newCode(village: village, base: code, taken: [])
        grid.info.name = name(code: grid.info.code, villageName: target.name)
        var notes = [tr("\(grid.info.code) keeps the worker: \(Self.worker(grid.info.workerName))").rendered]
        if try Geodesic.sharedBorderLength(try shape(code), try geometry(wkb: target.wkb)) == 0 {
            notes.append(tr("\(code) does not border village \(village): the village will be in separate parts").rendered)
        }
        return PlanEdit(removed: [code], changed: [grid], region: grid.wkb,
                        summary: tr("moved \(code) to village \(village) \(target.name) as \(grid.info.code) \(grid.info.name)").rendered, notes: notes)
    }

    /// Sets a grid's worker (网格员).
    public func setWorker(_ code: String, name: String?, phone: String?) throws -> PlanEdit {
        if let problem = TextLimits.firstProblem([("name", name, TextLimits.name), ("phone", phone, TextLimits.code)]) {
            throw WanggeError.refused(tr("worker \(code): \(problem)"))
        }
        var grid = try requireGrid(code)
        grid.info.workerName = name
        grid.info.workerPhone = phone
        return PlanEdit(removed: [], changed: [grid], region: grid.wkb,
                        summary: tr("\(code) \(grid.info.name): worker \(Self.worker(name)) \(phone ?? "")").rendered)
    }

    /// Splits a grid into compact parts with at most `maxHouseholds` each
    /// where it can: k-means centres of its households in the metric CRS,
    /// the grid cut along the centres' Voronoi edges. Starts from the fewest
    /// parts that could do and adds parts (up to three more) while one is
    /// still over. Nil when the grid has no more than `maxHouseholds`.
    public func splitByHouseholds(_ code: String, households: [LonLat], maxHouseholds: Int, seed: UInt64 = 2027) throws -> PlanEdit? {
        guard households.count > maxHouseholds, maxHouseholds > 0 else { return nil }
        let shape = try shape(code)
        let proj = try PROJContext()
        let e = try shape.envelope
        let toMetric = try MetricCRS.transformer(to: MetricCRS.code(forLongitude: (e.minX + e.maxX) / 2, latitude: (e.minY + e.maxY) / 2), context: proj)
        let points = try households.map { p -> LonLat in
            let xy = try toMetric.transform(x: p.lon, y: p.lat)
            return LonLat(xy.x, xy.y)
        }
        let lowest = (households.count + maxHouseholds - 1) / maxHouseholds
        let around = try codes(touching: shape)
        let prepared = try PreparedGeometry(shape)
        var best: (pieces: [[Geometry]], faces: [Face], largest: Int)?
        for k in lowest...min(lowest + 3, points.count) {
            var random = SeededRandom(seed: seed)
            let centres = KMeans.cluster(points, k: k, iterations: 30, random: &random).centers
            var frame = Envelope(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
            for corner in [(e.minX, e.minY), (e.maxX, e.minY), (e.minX, e.maxY), (e.maxX, e.maxY)] {
                let xy = try toMetric.transform(x: corner.0, y: corner.1)
                frame = frame.union(Envelope(minX: xy.x, minY: xy.y, maxX: xy.x, maxY: xy.y))
            }
            let edges = try VoronoiPartition.edges(of: centres, frame: frame.expanded(by: 1_000), context: geos) { xy in
                for i in stride(from: 0, to: xy.count, by: 2) {
                    let p = try toMetric.inverse(x: xy[i], y: xy[i + 1])
                    xy[i] = p.x
                    xy[i + 1] = p.y
                }
            }
            let cut = try edges.intersection(try shape.buffer(Self.overshootDegrees))
            let faces = try faces(of: around, lines: [cut])
            var pieces = [[Geometry]](repeating: [], count: k)
            for face in faces where face.owner == code {
                let p = try face.probe.pointCoordinates
                let xy = try toMetric.transform(x: p.x, y: p.y)
                pieces[KMeans.nearest(LonLat(xy.x, xy.y), centres)].append(face.geometry)
            }
            pieces = pieces.filter { !$0.isEmpty }
            guard pieces.count > 1 else { continue }
            let parts = try pieces.map { try PreparedGeometry(try union($0)) }
            var counts = [Int](repeating: 0, count: parts.count)
            for p in households {
                let point = try Geometry.point(x: p.lon, y: p.lat, context: geos)
                guard try prepared.covers(point) else { continue }
                if let i = try parts.indices.first(where: { try parts[$0].covers(point) }) { counts[i] += 1 }
            }
            let largest = counts.max() ?? 0
            if best == nil || largest < best!.largest { best = (pieces, faces, largest) }
            if largest <= maxHouseholds { break }
        }
        guard let best else { return nil }
        var edit = try divide(code, into: best.pieces, faces: best.faces, around: around, verb: tr("split by households"))
        edit.notes.append(tr("largest part: \(best.largest) households (limit \(maxHouseholds))").rendered)
        return edit
    }

    // MARK: Pieces

    /// A face of a re-tiling and the grid whose interior held it before the edit (nil: a gap or outside).
    struct Face {
        let geometry: Geometry
        let probe: Geometry
        let owner: String?
    }

    /// Polygonizes the boundaries of `codes` with `lines`, noded together.
    func faces(of codes: [String], lines: [Geometry]) throws -> [Face] {
        let geometries = try codes.map(shape)
        let prepared = try geometries.map { try PreparedGeometry($0) }
        // Edges that nearly coincide (a file whose neighbours do not share
        // vertices exactly) leave faces of a few square millimetres: noise, left out.
        let faces = try Geometry.faces(of: try geometries.map { try $0.boundary() } + lines, context: geos)
            .filter { try LocalArea.squareMetres(of: $0) >= PlanThresholds.noiseSquareMetres }
        return try faces.map { face in
            let probe = try face.pointOnSurface()
            let owner = try prepared.indices.first { try prepared[$0].covers(probe) }.map { codes[$0] }
            return Face(geometry: face, probe: probe, owner: owner)
        }
    }

    /// Replaces `code` with one new grid per piece (new codes under its
    /// village, the largest piece first and keeping the worker), and rebuilds
    /// the neighbours from their faces where the cut added vertices to their edges.
    /// A worker's name for an edit's summary, or "none".
    private static func worker(_ name: String?) -> Localized { name.map(Localized.verbatim) ?? tr("none") }

    private func divide(_ code: String, into pieces: [[Geometry]], faces: [Face], around: [String], verb: Localized) throws -> PlanEdit {
        let original = try requireGrid(code)
        let shapes = try pieces.map { try union($0) }
        let areas = try shapes.map { try Geodesic.area(of: $0) }
        let order = shapes.indices.sorted { areas[$0] > areas[$1] }
        var changed: [PlanGrid] = []
        var taken: Set<String> = []
        for (rank, i) in order.enumerated() {
            var info = original.info
            info.code = newCode(village: info.villageCode, base: code, taken: taken)
            taken.insert(info.code)
            info.name = name(code: info.code, villageName: info.villageName)
            info.areaSquareMetres = areas[i]
            if rank > 0 {
                info.workerName = nil
                info.workerPhone = nil
            }
            changed.append(PlanGrid(info: info, wkb: try shapes[i].wkb()))
        }
        for other in around where other != code {
            guard let shape = try rebuilt(other, from: faces.filter { $0.owner == other }.map(\.geometry)) else { continue }
            var grid = try requireGrid(other)
            grid.wkb = try shape.wkb()
            changed.append(grid)
        }
        let newCodes = changed.prefix(pieces.count).map { "\($0.info.code) (\(Self.km2($0.info.areaSquareMetres ?? 0)))" }
        var notes = [tr("\(changed[0].info.code) keeps the worker: \(Self.worker(original.info.workerName))").rendered]
        for grid in changed.dropFirst().prefix(pieces.count - 1) {
            notes.append(tr("\(grid.info.code) has no worker yet: set one (the worker edit)").rendered)
        }
        return PlanEdit(removed: [code], changed: changed, region: original.wkb,
                        summary: tr("\(verb) \(code) \(original.info.name) into \(newCodes.joined(separator: ", "))").rendered, notes: notes)
    }

    /// The grid rebuilt from its faces, or nil when that is the shape it had
    /// (then it keeps its stored polygon untouched).
    private func rebuilt(_ code: String, from faces: [Geometry]) throws -> Geometry? {
        let rebuilt = try union(faces)
        return try rebuilt.equalsTopologically(try shape(code)) ? nil : rebuilt
    }

    private func union(_ faces: [Geometry]) throws -> Geometry {
        try Geometry.collection(.geometryCollection, faces, context: geos).unaryUnion().asMultiPolygon()
    }

    // MARK: Lookups

    /// A line or polygon given for an edit, of one of the expected types.
    private func input(_ wkb: [UInt8], as types: [GeometryType], _ what: String) throws -> Geometry {
        let geometry = try geometry(wkb: wkb)
        let type = try geometry.type
        guard types.contains(type) else {
            throw WanggeError.refused(tr("\(what) must be a \(types.map(\.name).joined(separator: " or ")), not a \(type.name)"))
        }
        return geometry
    }

    func requireGrid(_ code: String) throws -> PlanGrid {
        guard let grid = plan.grid(code) else { throw WanggeError.refused(tr("no grid \(code) in the draft")) }
        return grid
    }

    func shape(_ code: String) throws -> Geometry {
        if let cached = shapes[code] { return cached }
        let shape = try geometry(wkb: try requireGrid(code).wkb)
        shapes[code] = shape
        return shape
    }

    /// Codes of the grids that intersect (or touch) `area`, in code order.
    func codes(touching area: Geometry) throws -> [String] {
        let box = try area.envelope
        var result: [String] = []
        for grid in plan.grids {
            let shape = try shape(grid.info.code)
            let e = try shape.envelope
            guard e.minX <= box.maxX, box.minX <= e.maxX, e.minY <= box.maxY, box.minY <= e.maxY else { continue }
            if try shape.intersects(area) { result.append(grid.info.code) }
        }
        return result
    }

    private func newCode(village: String, base: String, taken: Set<String>) -> String {
        GridCodes.nextCode(village: village, base: base, used: plan.usedCodes.union(taken))
    }

    private func name(code: String, villageName: String) -> String {
        GridCodes.number(of: code).map { GridCodes.gridName(villageName: villageName, number: $0) } ?? code
    }

    private func villageNote(_ other: String, _ code: String) -> String {
        guard let a = plan.grid(other)?.info, let b = plan.grid(code)?.info, a.villageCode != b.villageCode else { return "" }
        return ", across the border of villages \(b.villageCode) and \(a.villageCode)"
    }

    static func km2(_ m2: Double) -> String {
        m2 >= 10_000 ? String(format: "%.3f km²", m2 / 1e6) : String(format: "%.0f m²", m2)
    }
}
