/// The kinds of point the centre assigns to grids.
public enum PointLayer: String, Sendable, Codable, CaseIterable {
    case households = "household"
    case cameras = "camera"
    case incidents = "incident"

    /// The table holding the layer's records.
    public var table: String {
        switch self {
        case .households: "households"
        case .cameras: "cameras"
        case .incidents: "incidents"
        }
    }
}

/// A grid with its place in the hierarchy and its worker.
public struct GridInfo: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var villageCode: String
    public var villageName: String
    public var townCode: String
    public var townName: String
    public var workerName: String?
    public var workerPhone: String?
    public var areaSquareMetres: Double?

    public init(code: String, name: String, villageCode: String, villageName: String, townCode: String, townName: String,
                workerName: String? = nil, workerPhone: String? = nil, areaSquareMetres: Double? = nil) {
        self.code = code
        self.name = name
        self.villageCode = villageCode
        self.villageName = villageName
        self.townCode = townCode
        self.townName = townName
        self.workerName = workerName
        self.workerPhone = workerPhone
        self.areaSquareMetres = areaSquareMetres
    }
}

/// One household (户).
public struct HouseholdRecord: Sendable, Equatable, Codable {
    public var id: String
    public var lon: Double
    public var lat: Double
    public var address: String?
    public var head: String?
    public var phone: String?
    public var idNumber: String?
    public var members: Int
    public var tags: [String]
    public var grid: String?
    public var method: AssignmentMethod?
    /// Bumped by every change (an edit, a move, an import over it); nil where a listing does not read it.
    public var version: Int?

    public init(id: String, lon: Double, lat: Double, address: String?, head: String?, phone: String?, idNumber: String?,
                members: Int, tags: [String], grid: String? = nil, method: AssignmentMethod? = nil, version: Int? = nil) {
        self.id = id
        self.lon = lon
        self.lat = lat
        self.address = address
        self.head = head
        self.phone = phone
        self.idNumber = idNumber
        self.members = members
        self.tags = tags
        self.grid = grid
        self.method = method
        self.version = version
    }
}

/// Counts for one area (grid, village, town or the county).
public struct AreaStatistics: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var grids: Int
    public var households: Int
    public var residents: Int
    public var cameras: Int
    public var camerasOnline: Int
    public var incidents: Int
    public var openIncidents: Int
    /// Points of any layer whose assignment records a runner-up grid.
    public var nearBoundary: Int
    /// Points of any layer assigned as `nearest` (outside every grid, within tolerance).
    public var nearest: Int

    public init(code: String, name: String, grids: Int = 0, households: Int = 0, residents: Int = 0, cameras: Int = 0,
                camerasOnline: Int = 0, incidents: Int = 0, openIncidents: Int = 0, nearBoundary: Int = 0, nearest: Int = 0) {
        self.code = code
        self.name = name
        self.grids = grids
        self.households = households
        self.residents = residents
        self.cameras = cameras
        self.camerasOnline = camerasOnline
        self.incidents = incidents
        self.openIncidents = openIncidents
        self.nearBoundary = nearBoundary
        self.nearest = nearest
    }
}

/// The levels statistics can be grouped by.
public enum AreaLevel: String, Sendable, Codable, CaseIterable {
    case town, village, grid
}
