import Foundation

/// One located point, as `locate --json` prints it.
public struct LocateAnswer: Encodable, Sendable {
    public let input: Input
    public let wgs84: [Double]
    public let grid: String?
    public let gridName: String?
    public let village: String?
    public let villageName: String?
    public let town: String?
    public let townName: String?
    public let worker: Worker?
    public let method: AssignmentMethod
    public let distanceM: Double?
    public let runnerUp: String?
    public let runnerUpDistanceM: Double?
    public let nearestGrid: String?

    public struct Input: Encodable, Sendable {
        public let x: Double, y: Double, crs: String
        public init(x: Double, y: Double, crs: String) {
            self.x = x
            self.y = y
            self.crs = crs
        }
    }

    public struct Worker: Encodable, Sendable {
        public let name: String?, phone: String?
    }

    /// The answer for one assignment, with the grid's hierarchy and worker from `info`.
    public init(input: Input, wgs84: LonLat, assignment a: PointAssignment, codes: [String], info: (String) -> GridInfo?) {
        func code(_ index: Int32) -> String? { index >= 0 ? codes[Int(index)] : nil }
        let grid = code(a.grid).flatMap(info)
        self.input = input
        self.wgs84 = [wgs84.lon, wgs84.lat]
        self.grid = grid?.code
        gridName = grid?.name
        village = grid?.villageCode
        villageName = grid?.villageName
        town = grid?.townCode
        townName = grid?.townName
        worker = grid.flatMap { $0.workerName == nil && $0.workerPhone == nil ? nil : Worker(name: $0.workerName, phone: $0.workerPhone) }
        method = a.method
        distanceM = a.distanceMeters
        runnerUp = code(a.runnerUp)
        runnerUpDistanceM = a.runnerUpDistanceMeters
        nearestGrid = code(a.nearestGrid)
    }

    enum CodingKeys: String, CodingKey {
        case input, wgs84, grid, gridName = "grid_name", village, villageName = "village_name", town, townName = "town_name"
        case worker, method, distanceM = "distance_m", runnerUp = "runner_up", runnerUpDistanceM = "runner_up_distance_m"
        case nearestGrid = "nearest_grid"
    }

    // Every key is written, null included, so that clients can rely on them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(input, forKey: .input)
        try c.encode(wgs84, forKey: .wgs84)
        try c.encode(grid, forKey: .grid)
        try c.encode(gridName, forKey: .gridName)
        try c.encode(village, forKey: .village)
        try c.encode(villageName, forKey: .villageName)
        try c.encode(town, forKey: .town)
        try c.encode(townName, forKey: .townName)
        try c.encode(worker, forKey: .worker)
        try c.encode(method, forKey: .method)
        try c.encode(distanceM.map(Self.rounded), forKey: .distanceM)
        try c.encode(runnerUp, forKey: .runnerUp)
        try c.encode(runnerUpDistanceM.map(Self.rounded), forKey: .runnerUpDistanceM)
        try c.encode(nearestGrid, forKey: .nearestGrid)
    }

    /// Centimetres are as far as a dispatcher's question goes.
    static func rounded(_ metres: Double) -> Double { (metres * 100).rounded() / 100 }
}

