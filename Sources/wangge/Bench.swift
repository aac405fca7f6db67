import ArgumentParser
import Foundation
import GRDB
import GeoKit
import GridCore
import GridStore
import SampleCounty
import GridMap

extension Wangge {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks: bulk assignment (default) and memory ownership.",
            subcommands: [Assign.self, Map.self, Coverage.self, Memory.self], defaultSubcommand: Assign.self)
    }
}

extension Wangge.Bench {
    /// Camera coverage of the whole county, timed.
    struct Coverage: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time camera coverage for the whole county (after make demo).")

        @OptionGroup var store: StoreOptions
        @Option(help: "Runs to time.") var runs = 3

        func run() throws {
            let (gridStore, config) = try store.openStore()
            var times: [Double] = []
            var summary = ""
            for _ in 0..<max(runs, 1) {
                let start = DispatchTime.now()
                let (grids, coverage) = try computeCoverage(store: gridStore, config: config)
                times.append(Assign.seconds(since: start))
                let total = AreaCoverage(code: "county", name: "", parts: grids.map { coverage[$0.code]! }, threshold: config.coverage.blindSpotThreshold, patches: 1)
                summary = String(format: "%d grids, %d cameras online (%d offline), %.2f%% of the area and %.1f%% of households covered",
                                 total.grids, total.camerasOnline, total.camerasOffline, total.coveredShare * 100, total.householdsCoveredShare * 100)
            }
            times.sort()
            print(String(format: "coverage: %@ · median %.2f s, best %.2f s over %d runs (store reads, sectors, unions, household tests)",
                         summary, times[times.count / 2], times[0], times.count))
        }
    }

    /// Frame time of the terminal map: the whole county with every grid and the camera layer.
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time map frames of the whole county with the camera layer (after make demo).")

        @OptionGroup var store: StoreOptions
        @Option(help: "Columns.") var width = 200
        @Option(help: "Lines.") var height = 60
        @Option(help: "Frames to time.") var frames = 50

        func run() throws {
            let (gridStore, _) = try store.openStore()
            let loadStart = DispatchTime.now()
            let data = try MapData(store: gridStore, layers: [.cameras])
            let load = Assign.seconds(since: loadStart)
            let options = MapOptions(width: width, height: height, color: .truecolor, labels: .codes, layers: [.cameras], date: "bench")
            let viewport = Viewport.fitting(data.focusBounds(.county), options: options)
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<max(frames, 1) {
                let start = DispatchTime.now()
                let scene = try data.scene(metric: .households, focus: .county)
                let lines = MapRenderer.render(scene, viewport: viewport, options: options)
                bytes = lines.reduce(0) { $0 + $1.utf8.count }
                times.append(Assign.seconds(since: start) * 1000)
            }
            times.sort()
            print(String(format: "map frame %d×%d, %d grids, %d cameras, truecolor (%d bytes): median %.1f ms, p90 %.1f ms, max %.1f ms over %d frames; data loaded once in %.2f s",
                         width, height, data.grids.count, data.points.count, bytes, times[times.count / 2], times[times.count * 9 / 10],
                         times.last!, times.count, load))
        }
    }

    /// Creates and drops GEOS objects in a loop and reports how much the
    /// process grew: run in a process of its own, so nothing else allocates.
    struct Memory: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and free GEOS geometries in a loop and print the resident-memory growth in bytes.")

        @Option(help: "Iterations of the measured loop.")
        var iterations = 100_000

        func run() throws {
            let context = try GEOSContext()
            func churn(_ n: Int) throws {
                for i in 0..<n {
                    let x = Double(i % 1000) / 1000
                    let box = try Geometry.box(Envelope(minX: x, minY: 0, maxX: x + 1, maxY: 1), context: context)
                    let prepared = try PreparedGeometry(box)
                    let point = try Geometry.point(x: x + 0.5, y: 0.5, context: context)
                    guard try prepared.contains(point) else { throw UserError("prepared contains failed") }
                    let union = try box.clone().union(point)
                    _ = try Geometry(wkb: union.wkb(), context: context).wkt()
                    _ = try box.validityReason()
                }
            }
            try churn(20_000) // warm up allocator pools and GEOS's lazy statics
            let before = try Self.residentBytes()
            try churn(iterations)
            print("resident memory grew by \(try Self.residentBytes() - before) bytes over \(iterations) iterations")
        }

        static func residentBytes() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
                throw UserError("no VmRSS in /proc/self/status")
            }
            return kib * 1024
        }
    }

    struct Assign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmark bulk assignment (raster + GEOS, plain GEOS, SpatiaLite SQL) and print the figures.",
            discussion: "Points are random with a fixed seed, 1% of them outside the county. Build with -c release.")

        @Option(help: "The grids to assign to (GeoJSON).")
        var grids = "GeoData/grids.geojson"

        @Option(parsing: .upToNextOption, help: "Point counts for the bulk assignment runs.")
        var points: [Int] = [1_000_000, 10_000_000]

        @Option(help: "Points for the plain GEOS path (0 to skip).")
        var plainPoints = 1_000_000

        @Option(help: "Points for the SpatiaLite SQL join (0 to skip).")
        var sqlPoints = 1_000_000

        @Option(help: "Random seed.")
        var seed: UInt64 = 20_261_121

        @Option(help: "Ownership raster cells along the longer side of the grids' extent.")
        var cells = 2048

        func run() throws {
            let geos = try GEOSContext()
            let document = try GeoJSONDocument(contentsOf: grids)
            let shapes = try document.features.map { f in
                GridShape(code: f.properties["code"]?.text ?? "feature-\(f.index)", wkb: try Geometry(geoJSON: f.geometryJSON, context: geos).wkb())
            }
            print("machine: \(GridAssigner.coreCount) cores · GEOS \(GEOSContext.version) · PROJ \(PROJContext.version)")
            let assigner = try GridAssigner(shapes: shapes, cellsAlongLongerSide: cells)
            let raster = assigner.raster
            print(String(format: "index: %d grids, raster %d×%d cells of %.0f m, %.1f%% decided by the raster, built in %.3f s",
                         shapes.count, raster.columns, raster.rows, raster.cellSize * 110_574, raster.deepShare * 100, assigner.rasterBuildSeconds))
            var random = SeededRandom(seed: seed)
            var fastRate = 0.0
            for count in points {
                let sample = try Self.randomPoints(count, assigner: assigner, random: &random)
                let start = DispatchTime.now()
                let result = try assigner.assign(sample)
                let seconds = Self.seconds(since: start)
                fastRate = Double(count) / seconds
                let none = result.lazy.filter { $0.method == .none }.count
                print(String(format: "raster + GEOS: %@ points in %.3f s = %@ points/s (%d unassigned) · peak memory %@",
                             Self.grouped(count), seconds, Self.grouped(Int(fastRate)), none, Self.peakMemory()))
            }
            if plainPoints > 0 {
                let sample = try Self.randomPoints(plainPoints, assigner: assigner, random: &random)
                let start = DispatchTime.now()
                let exact = try assigner.assignExact(sample)
                let seconds = Self.seconds(since: start)
                let rate = Double(plainPoints) / seconds
                let fast = try assigner.assign(sample)
                let differences = zip(exact, fast).filter { $0 != $1 }.count
                print(String(format: "plain GEOS (STRtree + prepared, all cores): %@ points in %.3f s = %@ points/s · raster path %.1f× faster, %d differences",
                             Self.grouped(plainPoints), seconds, Self.grouped(Int(rate)), fastRate / rate, differences))
            }
            if sqlPoints > 0 {
                let sample = try Self.randomPoints(sqlPoints, assigner: assigner, random: &random)
                let (seconds, matched) = try Self.spatialiteJoin(gridsPath: grids, points: sample)
                let rate = Double(sqlPoints) / seconds
                let engine = try assigner.assign(sample).lazy.filter { $0.method == .inside }.count
                print(String(format: "SpatiaLite SQL (ST_Within + spatial index): %@ points in %.3f s = %@ points/s · raster path %.1f× faster · matched %d (engine: %d inside)",
                             Self.grouped(sqlPoints), seconds, Self.grouped(Int(rate)), fastRate / rate, matched, engine))
            }
            print("peak memory: \(Self.peakMemory())")
        }

        /// `count` random points: 99% inside some grid, 1% outside all of them (near the county).
        static func randomPoints(_ count: Int, assigner: GridAssigner, random: inout SeededRandom) throws -> [LonLat] {
            let e = assigner.raster
            let width = Double(e.columns) * e.cellSize, height = Double(e.rows) * e.cellSize
            let outsideWanted = count / 100
            var inside: [LonLat] = []
            var outside: [LonLat] = []
            inside.reserveCapacity(count)
            while inside.count < count - outsideWanted || outside.count < outsideWanted {
                var batch: [LonLat] = []
                for _ in 0..<max(100_000, count / 4) {
                    batch.append(LonLat(e.origin.lon + random.unit() * width, e.origin.lat + random.unit() * height))
                }
                for (p, a) in zip(batch, try assigner.assign(batch)) {
                    if a.method == .inside || a.method == .boundary {
                        if inside.count < count - outsideWanted { inside.append(p) }
                    } else if outside.count < outsideWanted {
                        outside.append(p)
                    }
                }
            }
            // Interleave the outside points through the inside ones (one in a hundred).
            var result: [LonLat] = []
            result.reserveCapacity(count)
            var nextOutside = 0
            for (k, p) in inside.enumerated() {
                if k % 99 == 50, nextOutside < outside.count {
                    result.append(outside[nextOutside])
                    nextOutside += 1
                }
                result.append(p)
            }
            result.append(contentsOf: outside[nextOutside...])
            return result
        }

        static func spatialiteJoin(gridsPath: String, points: [LonLat]) throws -> (Double, Int) {
            let path = NSTemporaryDirectory() + "wangge-bench-\(getpid()).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let store = try GridStore(path: path)
            _ = try store.importGrids(path: gridsPath)
            try store.database.pool.write { db in
                try db.execute(sql: "CREATE TABLE bench_points (id INTEGER PRIMARY KEY, x REAL, y REAL)")
                let insert = try db.makeStatement(sql: "INSERT INTO bench_points (id, x, y) VALUES (?, ?, ?)")
                for (i, p) in points.enumerated() { try insert.execute(arguments: [i, p.lon, p.lat]) }
                try db.execute(sql: "SELECT AddGeometryColumn('bench_points', 'geom', 4326, 'POINT', 'XY')")
                try db.execute(sql: "UPDATE bench_points SET geom = MakePoint(x, y, 4326)")
                try db.execute(sql: "SELECT CreateSpatialIndex('bench_points', 'geom')")
            }
            let start = DispatchTime.now()
            let matched = try store.database.pool.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM grids g JOIN bench_points p
                    ON p.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'bench_points' AND search_frame = g.geom)
                    AND ST_Within(p.geom, g.geom)
                    """) ?? 0
            }
            return (seconds(since: start), matched)
        }

        static func seconds(since start: DispatchTime) -> Double {
            Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        }

        static func grouped(_ n: Int) -> String {
            let digits = Array(String(n))
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return out
        }

        /// Peak resident memory of this process so far (getrusage's ru_maxrss, KiB on Linux).
        static func peakMemory() -> String {
            var usage = rusage()
            guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return "unknown" }
            return String(format: "%.0f MB", Double(usage.ru_maxrss) / 1024)
        }
    }
}
