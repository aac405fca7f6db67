import GridApplication
import ArgumentParser
import Foundation
import GRDB
import GeoKit
import GridCore
import GridStore
import SampleCounty
import GridMap
import Localization

extension Wangge {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench",
            abstract: tr("Benchmarks: bulk assignment (default) and memory ownership.").rendered,
            subcommands: [Assign.self, Map.self, Coverage.self, Memory.self], defaultSubcommand: Assign.self)
    }
}

extension Wangge.Bench {
    /// Camera coverage of the whole county, timed.
    struct Coverage: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "coverage", abstract: tr("Time camera coverage for the whole county (after make demo).").rendered)

        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Runs to time.").rendered)) var runs = 3

        func run() throws {
            let (gridStore, config) = try store.openStore()
            var times: [Double] = []
            var summary = ""
            for _ in 0..<max(runs, 1) {
                let start = DispatchTime.now()
                let coverage = try GridService(store: gridStore, config: config).gridCoverage()
                times.append(Assign.seconds(since: start))
                let total = AreaCoverage(code: "county", name: "", parts: Array(coverage.values), threshold: config.coverage.blindSpotThreshold, patches: 1)
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
        static let configuration = CommandConfiguration(commandName: "map",
            abstract: tr("Time map frames of the whole county with the camera layer (after make demo).").rendered)

        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Columns.").rendered)) var width = 200
        @Option(help: ArgumentHelp(tr("Lines.").rendered)) var height = 60
        @Option(help: ArgumentHelp(tr("Frames to time.").rendered)) var frames = 50

        func run() throws {
            let (gridStore, _) = try store.openStore()
            let loadStart = DispatchTime.now()
            let data = try MapData(service: try GridService(store: gridStore), layers: [.cameras])
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
        static let configuration = CommandConfiguration(commandName: "memory",
            abstract: tr("Create and free GEOS geometries in a loop and print the resident-memory growth in bytes.").rendered)

        @Option(help: ArgumentHelp(tr("Iterations of the measured loop.").rendered))
        var iterations = 100_000

        func run() throws {
            let churn = try GEOSBaseline.churn
            try churn(20_000) // warm up allocator pools and GEOS's lazy statics
            let before = try Self.residentBytes()
            try churn(iterations)
            print(tr("resident memory grew by \(try Self.residentBytes() - before) bytes over \(iterations) iterations").rendered)
        }

        static func residentBytes() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
                throw WanggeError.invalid(tr("no VmRSS in /proc/self/status"))
            }
            return kib * 1024
        }
    }

    struct Assign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "assign",
            abstract: tr("Benchmark bulk assignment (fast path, plain GEOS, SpatiaLite SQL) and print the figures.").rendered,
            discussion: tr("Points are random with a fixed seed, 1% of them outside the grids. The fast path's answers are compared with plain GEOS for every point of the plain run. Build with -c release.").rendered)

        @Option(help: ArgumentHelp(tr("The grids to assign to (GeoJSON).").rendered))
        var grids = "GeoData/grids.geojson"

        @Flag(help: ArgumentHelp(tr("Generate a province-sized tiling instead of reading --grids.").rendered))
        var province = false

        @Option(help: ArgumentHelp(tr("Grids of the generated province.").rendered))
        var provinceGrids = 20_000

        @Option(parsing: .upToNextOption, help: ArgumentHelp(tr("Point counts for the fast-path runs (default 1M and 10M; 1M with --province).").rendered))
        var points: [Int] = []

        @Option(help: ArgumentHelp(tr("Points for the plain GEOS path (0 to skip).").rendered))
        var plainPoints = 1_000_000

        @Option(help: ArgumentHelp(tr("Points for the SpatiaLite SQL join (0 to skip).").rendered))
        var sqlPoints = 1_000_000

        @Option(help: ArgumentHelp(tr("Random seed.").rendered))
        var seed: UInt64 = 20_261_121

        @Option(help: ArgumentHelp(tr("Raster cell side in metres (default: chosen from the grids).").rendered))
        var cellMetres: Double?

        @Option(help: ArgumentHelp(tr("Timed runs of each fast-path count (the best and the median are printed).").rendered))
        var runs = 3

        func run() throws {
            print(tr("machine: \(GridAssigner.coreCount) cores · \(LibraryVersions.geometry)").rendered)
            let shapes = try loadShapes()
            let assigner = try GridAssigner(shapes: shapes, cellSize: cellMetres.map { $0 / 110_574 })
            let index = assigner.index, raster = index.raster
            let vertexCounts = try Self.vertexCounts(shapes).sorted()
            print(String(format: "index: %@ grids (median %d vertices, %@ edge segments), raster %d×%d cells of %.0f m "
                         + "(%.1f%% deep, %.1f%% edge cells), %.0f MB of tables, built in %.3f s",
                         Self.grouped(shapes.count), vertexCounts[vertexCounts.count / 2], Self.grouped(index.segmentCount),
                         raster.columns, raster.rows, raster.cellSize * 110_574,
                         Double(raster.deepCells) * 100 / Double(raster.cellCount), Double(raster.edgeCells) * 100 / Double(raster.cellCount),
                         Double(index.tableBytes) / 1e6, assigner.indexBuildSeconds))
            print(tr("  build steps: ").rendered + assigner.indexBuildSteps.map { String(format: "%@ %.3f s", $0.step, $0.seconds) }.joined(separator: ", "))
            var random = SeededRandom(seed: seed)
            var fastRate = 0.0
            for count in points.isEmpty ? (province ? [1_000_000] : [1_000_000, 10_000_000]) : points {
                let sample = try Self.randomPoints(count, assigner: assigner, random: &random)
                var timings: [(wall: Double, cpu: Double)] = []
                var outcome: (assignments: [PointAssignment], counts: AssignmentPathCounts)?
                for _ in 0..<max(runs, 1) {
                    outcome = nil // the previous run's result is freed before timing the next
                    let cpuStart = Self.cpuSeconds()
                    let start = DispatchTime.now()
                    outcome = try assigner.assignCounting(sample)
                    timings.append((Self.seconds(since: start), Self.cpuSeconds() - cpuStart))
                }
                let (result, paths) = outcome!
                let sorted = timings.sorted { $0.wall < $1.wall }
                let best = sorted[0], median = sorted[sorted.count / 2]
                fastRate = Double(count) / best.wall
                let none = result.lazy.filter { $0.method == .none }.count
                print(String(format: "fast path: %@ points in %.3f s = %@ points/s (best of %d; median %.3f s) · %.0f ns of CPU a point · %d unassigned · peak memory %@",
                             Self.grouped(count), best.wall, Self.grouped(Int(fastRate)), timings.count, median.wall,
                             best.cpu / Double(count) * 1e9, none, Self.peakMemory()))
                print(tr("  decided by: \(Self.shares(paths))").rendered)
            }
            let candidates = index.outsideCandidates
            print(String(format: "outside every grid: %d tiles' lists made on demand, %.1f candidate edges each; metric coordinates first in Swift: %@",
                         candidates.tiles, candidates.mean, index.projectsInSwift ? "yes" : "no (PROJ's operation not recognised)"))
            if plainPoints > 0 {
                let sample = try Self.randomPoints(plainPoints, assigner: assigner, random: &random)
                let start = DispatchTime.now()
                let exact = try assigner.assignExact(sample)
                let seconds = Self.seconds(since: start)
                let rate = Double(plainPoints) / seconds
                let fast = try assigner.assign(sample)
                let differences = zip(exact, fast).filter { $0 != $1 }.count
                print(String(format: "plain GEOS (STRtree + prepared, all cores): %@ points in %.3f s = %@ points/s · fast path %.1f× faster, %d differences",
                             Self.grouped(plainPoints), seconds, Self.grouped(Int(rate)), fastRate / rate, differences))
            }
            if sqlPoints > 0 {
                let sample = try Self.randomPoints(sqlPoints, assigner: assigner, random: &random)
                let (seconds, matched) = try Self.spatialiteJoin(shapes: shapes, points: sample)
                let rate = Double(sqlPoints) / seconds
                let engine = try assigner.assign(sample).lazy.filter { $0.method == .inside }.count
                print(String(format: "SpatiaLite SQL (ST_Within + spatial index): %@ points in %.3f s = %@ points/s · fast path %.1f× faster · matched %d (engine: %d inside)",
                             Self.grouped(sqlPoints), seconds, Self.grouped(Int(rate)), fastRate / rate, matched, engine))
            }
            print(tr("peak memory: \(Self.peakMemory())").rendered)
        }

        func loadShapes() throws -> [GridShape] {
            if province {
                let start = DispatchTime.now()
                let shapes = try ProvinceGenerator(gridCount: provinceGrids).makeGrids()
                print(String(format: "province: %@ generated grids in %.1f s", Self.grouped(shapes.count), Self.seconds(since: start)))
                return shapes
            }
            return try GEOSBaseline.gridShapes(path: grids)
        }

        static func vertexCounts(_ shapes: [GridShape]) throws -> [Int] {
            try GEOSBaseline.vertexCounts(shapes)
        }

        static func shares(_ paths: AssignmentPathCounts) -> String {
            let total = Double(max(paths.total, 1))
            return [("deep cell", paths.deepCell), ("edge test", paths.edgeTest), ("near edge", paths.nearEdge),
                    ("outside", paths.outside), ("GEOS", paths.geos)]
                .map { String(format: "%@ %.2f%%", $0.0, Double($0.1) * 100 / total) }
                .joined(separator: ", ")
        }

        /// `count` random points: 99% inside some grid, 1% outside all of them (near the grids).
        static func randomPoints(_ count: Int, assigner: GridAssigner, random: inout SeededRandom) throws -> [LonLat] {
            let e = assigner.index.envelope
            let outsideWanted = count / 100
            var inside: [LonLat] = []
            var outside: [LonLat] = []
            inside.reserveCapacity(count)
            while inside.count < count - outsideWanted || outside.count < outsideWanted {
                var batch: [LonLat] = []
                for _ in 0..<max(100_000, count / 4) {
                    batch.append(LonLat(e.minX + random.unit() * e.width, e.minY + random.unit() * e.height))
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

        /// SpatiaLite's own join, the baseline of the comparison.
        static func spatialiteJoin(shapes: [GridShape], points: [LonLat]) throws -> (Double, Int) {
            try SpatiaLiteBaseline.join(shapes: shapes, points: points)
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

        /// User and system CPU time of this process so far, every thread.
        static func cpuSeconds() -> Double {
            var usage = rusage()
            guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return .nan }
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }

        /// Peak resident memory of this process so far (getrusage's ru_maxrss, KiB on Linux).
        static func peakMemory() -> String {
            var usage = rusage()
            guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return "unknown" }
            return String(format: "%.0f MB", Double(usage.ru_maxrss) / 1024)
        }
    }
}
