/// The household range one grid worker is expected to carry.
public struct WorkloadStandard: Sendable, Equatable, Codable {
    public var minHouseholds: Int
    public var maxHouseholds: Int
    public init(minHouseholds: Int, maxHouseholds: Int) {
        self.minHouseholds = minHouseholds
        self.maxHouseholds = maxHouseholds
    }
}

public struct WorkloadSettings: Sendable, Equatable {
    public var urban: WorkloadStandard
    public var rural: WorkloadStandard
    /// A grid is urban when its village's name contains one of these (社区: a community).
    public var urbanMarkers: [String]
    /// Standards for particular villages (rural grids are set village by village).
    public var villages: [String: WorkloadStandard]
    /// Workers per grid (one 网格员 per grid unless stated).
    public var workersPerGrid: Int

    public init(urban: WorkloadStandard = WorkloadStandard(minHouseholds: 300, maxHouseholds: 500),
                rural: WorkloadStandard = WorkloadStandard(minHouseholds: 150, maxHouseholds: 600),
                urbanMarkers: [String] = ["社区"], villages: [String: WorkloadStandard] = [:], workersPerGrid: Int = 1) {
        self.urban = urban
        self.rural = rural
        self.urbanMarkers = urbanMarkers
        self.villages = villages
        self.workersPerGrid = workersPerGrid
    }

    public func standard(for grid: GridInfo) -> (WorkloadStandard, urban: Bool) {
        let urban = urbanMarkers.contains { grid.villageName.contains($0) || grid.townName.hasSuffix($0) }
        if let own = villages[grid.villageCode] ?? villages[grid.villageName] { return (own, urban) }
        return (urban ? self.urban : rural, urban)
    }
}

public enum LoadStatus: String, Sendable, Codable {
    case under, within, over
}

/// One grid worker's load against the standard.
public struct GridWorkload: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var worker: String?
    public var urban: Bool
    public var households: Int
    public var residents: Int
    public var workers: Int
    public var householdsPerWorker: Double
    public var residentsPerWorker: Double
    public var standard: WorkloadStandard
    public var status: LoadStatus
    public var incidents: Int
    public var incidentsPerThousandHouseholds: Double

    public init(grid: GridInfo, statistics s: AreaStatistics, settings: WorkloadSettings) {
        let (standard, urban) = settings.standard(for: grid)
        code = grid.code
        name = grid.name
        worker = grid.workerName
        self.urban = urban
        households = s.households
        residents = s.residents
        workers = max(settings.workersPerGrid, 1)
        householdsPerWorker = Double(s.households) / Double(workers)
        residentsPerWorker = Double(s.residents) / Double(workers)
        self.standard = standard
        status = householdsPerWorker > Double(standard.maxHouseholds) ? .over
            : householdsPerWorker < Double(standard.minHouseholds) ? .under : .within
        incidents = s.incidents
        incidentsPerThousandHouseholds = s.households > 0 ? Double(s.incidents) * 1000 / Double(s.households) : 0
    }
}
