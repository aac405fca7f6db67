import Foundation

/// The levels that handle an incident, lowest first ("小事不出村、大事不出镇").
public enum HandlingLevel: String, Sendable, Codable, CaseIterable, Comparable {
    case grid, village, town, county

    public static func < (a: HandlingLevel, b: HandlingLevel) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Routing rules, from the `dispatch` section of the configuration.
public struct DispatchRules: Sendable, Equatable {
    /// Severity (简单, 一般, 疑难) → the level that handles it.
    public var severityLevels: [String: HandlingLevel]
    public var defaultLevel: HandlingLevel
    /// Hours a level has to settle an incident.
    public var timeLimitHours: [HandlingLevel: Double]
    /// Category → the county department that answers the whistle ("中心吹哨、部门报到").
    public var departments: [String: String]
    public var defaultDepartment: String
    /// The categories and channels a report may name; severities are the keys of `severityLevels`.
    public var categories: [String]
    public var channels: [String]
    /// Same category within this distance and time: a likely duplicate.
    public var duplicateRadiusMeters: Double
    public var duplicateWindowHours: Double
    /// The "2+1+N" ladder of mediation attempts per level.
    public var ladder: MediationLadder
    /// How often `wangge serve` escalates overdue incidents; 0 turns it off.
    public var escalationScanSeconds: Double

    /// The built-in departments, as in the shipped Config/wangge.yaml (a test keeps the two equal).
    public static let standardDepartments = [
        "矛盾纠纷": "司法局", "环境卫生": "城市管理和综合执法局", "安全隐患": "应急管理局", "治安问题": "公安局",
        "道路交通": "交通运输局", "市政设施": "住房和城乡建设局", "噪音扰民": "生态环境局", "违章建筑": "自然资源局",
        "防汛抗旱": "水利局", "劳资纠纷": "人力资源和社会保障局",
    ]
    public static let standardCategories = ["矛盾纠纷", "环境卫生", "安全隐患", "治安问题", "道路交通", "市政设施", "噪音扰民",
                                            "违章建筑", "防汛抗旱", "劳资纠纷", "其他"]
    public static let standardChannels = ["网格员上报", "12345", "码上办", "来访"]

    public init(severityLevels: [String: HandlingLevel] = ["简单": .village, "一般": .town, "疑难": .county],
                defaultLevel: HandlingLevel = .village,
                timeLimitHours: [HandlingLevel: Double] = [.grid: 24, .village: 72, .town: 168, .county: 360],
                departments: [String: String] = standardDepartments, defaultDepartment: String = "综治中心",
                categories: [String] = standardCategories, channels: [String] = standardChannels,
                duplicateRadiusMeters: Double = 100, duplicateWindowHours: Double = 48,
                ladder: MediationLadder = MediationLadder(), escalationScanSeconds: Double = 300) {
        self.severityLevels = severityLevels
        self.defaultLevel = defaultLevel
        self.timeLimitHours = timeLimitHours
        self.departments = departments
        self.defaultDepartment = defaultDepartment
        self.categories = categories
        self.channels = channels
        self.duplicateRadiusMeters = duplicateRadiusMeters
        self.duplicateWindowHours = duplicateWindowHours
        self.ladder = ladder
        self.escalationScanSeconds = escalationScanSeconds
    }

    /// The department that answers for a category.
    public func department(for category: String) -> String {
        departments[category] ?? defaultDepartment
    }

    /// The level a report of this severity starts at.
    public func level(for severity: String?) -> HandlingLevel {
        severity.flatMap { severityLevels[$0] } ?? defaultLevel
    }

    /// The severities, lowest level first.
    public var severities: [String] {
        severityLevels.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
    }

    /// Refuses a category, channel or severity outside the configured words
    /// (a typo would otherwise route with the defaults: `紧急` to the village with 72 h).
    public func check(_ field: VocabularyField, _ value: String) throws {
        let allowed = switch field {
        case .category: categories
        case .channel: channels
        case .severity: severities
        }
        guard allowed.contains(value) else { throw WanggeError.vocabulary(field, value: value, allowed: allowed) }
    }

    /// Checks the words of a new report.
    public func checkReport(category: String, channel: String, severity: String?) throws {
        try check(.category, category)
        try check(.channel, channel)
        if let severity { try check(.severity, severity) }
    }

    /// When a level given the incident at `start` must have settled it.
    public func deadline(from start: Date, at level: HandlingLevel) -> Date {
        start.addingTimeInterval((timeLimitHours[level] ?? 72) * 3600)
    }
}

/// The fields whose words the configuration lists (dispatch.categories, channels, severity_levels).
public enum VocabularyField: String, Sendable { case category, channel, severity }

/// Where a report goes: the grid and people responsible, the level and unit
/// that handle it, the department for its category, and the deadline.
public struct Routing: Sendable, Equatable, Encodable {
    public var grid: String
    public var gridName: String
    public var village: String
    public var villageName: String
    public var town: String
    public var townName: String
    public var worker: String?
    public var workerPhone: String?
    public var level: HandlingLevel
    /// The unit at that level: the grid, the village committee, the town, or the department.
    public var unit: String
    public var department: String
    public var deadline: Date
    public var method: AssignmentMethod
    public var distanceMeters: Double?
    /// Set when another grid is within the near-boundary distance: the dispatcher confirms.
    public var confirmWithGrid: String?
    /// An earlier incident of the same category nearby and recent.
    public var duplicateOf: String?
}

public enum Dispatcher {
    /// Routes a located report. `earlier` are incidents of the same category
    /// nearby, with their distance in metres and time: those within the
    /// duplicate radius and window make it a likely duplicate.
    public static func route(assignment a: PointAssignment, codes: [String], grids: [String: GridInfo], category: String,
                             severity: String?, reportedAt: Date, earlier: [(id: String, distanceMeters: Double, reportedAt: Date)],
                             rules: DispatchRules) throws -> Routing {
        guard a.grid >= 0, let grid = grids[codes[Int(a.grid)]] else {
            throw WanggeError.outsideEveryGrid(nearestGrid: a.nearestGrid >= 0 ? codes[Int(a.nearestGrid)] : nil, distanceMeters: a.distanceMeters)
        }
        let level = rules.level(for: severity)
        let department = rules.department(for: category)
        let window = rules.duplicateWindowHours * 3600
        let duplicate = earlier
            .filter { $0.distanceMeters <= rules.duplicateRadiusMeters && abs(reportedAt.timeIntervalSince($0.reportedAt)) <= window }
            .min { $0.distanceMeters < $1.distanceMeters }
        return Routing(
            grid: grid.code, gridName: grid.name, village: grid.villageCode, villageName: grid.villageName,
            town: grid.townCode, townName: grid.townName, worker: grid.workerName, workerPhone: grid.workerPhone,
            level: level, unit: unit(at: level, grid: grid, department: department), department: department,
            deadline: rules.deadline(from: reportedAt, at: level),
            method: a.method, distanceMeters: a.distanceMeters,
            confirmWithGrid: a.runnerUp >= 0 ? codes[Int(a.runnerUp)] : nil, duplicateOf: duplicate?.id)
    }

    /// The unit that handles an incident at a level: the grid, the village
    /// committee, the town, or the county department.
    public static func unit(at level: HandlingLevel, grid: GridInfo, department: String) -> String {
        switch level {
        case .grid: grid.name
        case .village: villageCommittee(grid.villageName)
        case .town: grid.townName
        case .county: department
        }
    }

    /// 和桥社区 → 和桥社区居委会, 和平村 → 和平村委会, 东湖 → 东湖村委会.
    static func villageCommittee(_ village: String) -> String {
        if village.hasSuffix("社区") { return village + "居委会" }
        return village.hasSuffix("村") ? village + "委会" : village + "村委会"
    }
}
