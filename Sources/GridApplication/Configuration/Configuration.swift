import Foundation
import GridCore
import GridStore
import Yams
import Localization

/// The configuration file (Config/wangge.yaml), documented line by line there.
public struct WanggeConfig: Decodable {
    public var database = "var/wangge.sqlite"
    /// A hot standby of a PostgreSQL `database` that the server's reads go to (nil: the primary serves them).
    public var readDatabase: String?
    /// The language of the command line's output and of API answers whose request
    /// has no `Accept-Language`; nil follows the locale (see `Language.resolve`).
    public var language: Language?
    public var rules = AssignmentRules()
    public var gridFields = GridFieldMapping()
    /// Names of point file columns besides the built-in English and Chinese ones (`point_columns:`).
    public var pointColumns = PointColumnNames()
    public var coverage = CoverageSettings()
    public var workload = WorkloadSettings()
    public var dispatch = DispatchRules()
    public var planning = PlanThresholds()
    public var server = ServerSettings()
    public var webMap = WebMapSettings()
    public var privacy = PrivacyPolicy.defaults

    struct WebMapSection: Decodable {
        var leafletDirectory: String?
        var baseTiles: String?
        var baseTilesAttribution: String?
        var refreshS: Double?
        enum CodingKeys: String, CodingKey {
            case leafletDirectory = "leaflet_directory", baseTiles = "base_tiles", baseTilesAttribution = "base_tiles_attribution"
            case refreshS = "refresh_s"
        }
    }

    struct ServerSection: Decodable {
        var publicURL: String?
        var idleTimeoutS: Double?
        var requestTimeoutS: Double?
        var maxConnections: Int?
        var maxStandbyLagS: Double?
        var locatesOnEventLoop: Bool?
        var databaseTimeoutS: Double?
        enum CodingKeys: String, CodingKey {
            case publicURL = "public_url", idleTimeoutS = "idle_timeout_s", requestTimeoutS = "request_timeout_s"
            case maxConnections = "max_connections", maxStandbyLagS = "max_standby_lag_s", locatesOnEventLoop = "locates_on_event_loop"
            case databaseTimeoutS = "database_timeout_s"
        }
    }

    /// A number of seconds above 0, at most a day.
    static func positiveSeconds(_ value: Double?, _ key: String) throws -> Duration? {
        guard let value else { return nil }
        guard value > 0, value <= 86_400 else { throw WanggeError.invalid(tr("\(key) must be a number of seconds above 0 and at most 86400")) }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    struct PlanningSection: Decodable {
        var maxOverlapM2: Double?
        var maxGapM2: Double?
        enum CodingKeys: String, CodingKey { case maxOverlapM2 = "max_overlap_m2", maxGapM2 = "max_gap_m2" }
    }

    struct DispatchSection: Decodable {
        var severityLevels: [String: String]?
        var defaultLevel: String?
        var timeLimitsHours: [String: Double]?
        var departments: [String: String]?
        var defaultDepartment: String?
        var categories: [String]?
        var channels: [String]?
        var duplicateRadiusM: Double?
        var duplicateWindowHours: Double?
        var mediationAttempts: [String: Int]?
        var escalationScanSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case severityLevels = "severity_levels", defaultLevel = "default_level", timeLimitsHours = "time_limits_hours"
            case departments, defaultDepartment = "default_department", categories, channels, duplicateRadiusM = "duplicate_radius_m"
            case duplicateWindowHours = "duplicate_window_hours", mediationAttempts = "mediation_attempts"
            case escalationScanSeconds = "escalation_scan_seconds"
        }
    }

    /// A distance or area that must not be negative.
    static func nonNegative(_ value: Double?, _ key: String) throws -> Double? {
        if let value, !(value >= 0) { throw WanggeError.invalid(tr("\(key) must be ≥ 0")) }
        return value
    }

    static func level(_ text: String, _ key: String) throws -> HandlingLevel {
        guard let level = HandlingLevel(rawValue: text) else {
            throw WanggeError.invalid(tr("\(key): \"\(text)\" is not one of \(HandlingLevel.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return level
    }

    struct CameraDefaultsEntry: Decodable {
        var fovDeg: Double
        var rangeM: Double
        enum CodingKeys: String, CodingKey { case fovDeg = "fov_deg", rangeM = "range_m" }
    }

    struct CoverageSection: Decodable {
        var blindSpotThreshold: Double?
        var patches: Int?
        var minPatchM2: Double?
        var cameraDefaults: [String: CameraDefaultsEntry]?
        enum CodingKeys: String, CodingKey {
            case blindSpotThreshold = "blind_spot_threshold", patches, minPatchM2 = "min_patch_m2", cameraDefaults = "camera_defaults"
        }
    }

    struct StandardEntry: Decodable {
        var minHouseholds: Int
        var maxHouseholds: Int
        enum CodingKeys: String, CodingKey { case minHouseholds = "min_households", maxHouseholds = "max_households" }
        var standard: WorkloadStandard { WorkloadStandard(minHouseholds: minHouseholds, maxHouseholds: maxHouseholds) }
    }

    struct WorkloadSection: Decodable {
        var workersPerGrid: Int?
        var urban: StandardEntry?
        var rural: StandardEntry?
        var urbanMarkers: [String]?
        var villages: [String: StandardEntry]?
        enum CodingKeys: String, CodingKey {
            case workersPerGrid = "workers_per_grid", urban, rural, urbanMarkers = "urban_markers", villages
        }
    }

    struct AssignmentSection: Decodable {
        var nearestToleranceM: Double?
        var nearBoundaryM: Double?
        enum CodingKeys: String, CodingKey {
            case nearestToleranceM = "nearest_tolerance_m", nearBoundaryM = "near_boundary_m"
        }
    }

    enum CodingKeys: String, CodingKey {
        case database, readDatabase = "read_database", language, assignment, gridFields = "grid_fields", pointColumns = "point_columns", coverage, workload, dispatch, planning, server, privacy
        case webMap = "web_map"
    }

    /// One name or a list of names (`head: 户主名` or `head: [户主名, 家长]`).
    struct OneOrMore: Decodable {
        var names: [String]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { names = [one] } else { names = try c.decode([String].self) }
        }
    }

    /// Any key, so that a misspelt key in the privacy section is an error rather than a silent default.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    /// The privacy section: per role, what it sees; keys left out keep the built-in defaults.
    struct PrivacySection: Decodable {
        var policy = PrivacyPolicy.defaults

        init(from decoder: Decoder) throws {
            let roles = try decoder.container(keyedBy: AnyKey.self)
            for roleKey in roles.allKeys {
                guard let role = Role(rawValue: roleKey.stringValue) else {
                    throw WanggeError.invalid(tr("privacy: unknown role \"\(roleKey.stringValue)\" (roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))"))
                }
                let path = "privacy.\(role.rawValue)"
                let section = try roles.nestedContainer(keyedBy: AnyKey.self, forKey: roleKey)
                var settings = policy.role(role)
                for key in section.allKeys {
                    let name = key.stringValue
                    switch name {
                    case "households":
                        settings.households = try Self.choice(try section.decode(String.self, forKey: key), "\(path).households")
                    case "notifications":
                        settings.notifications = try Self.choice(try section.decode(String.self, forKey: key), "\(path).notifications")
                    case "fields":
                        settings.fields = try Self.fields(try section.decode([String: String].self, forKey: key), over: settings.fields, "\(path).fields")
                    case "own_grids":
                        guard role == .gridWorker else { throw WanggeError.invalid(tr("\(path).own_grids: only grid_worker has own grids")) }
                        settings.ownGrids = try Self.fields(try section.decode([String: String].self, forKey: key),
                                                            over: settings.ownGrids ?? settings.fields, "\(path).own_grids")
                    default:
                        throw WanggeError.invalid(tr("\(path): unknown key \"\(name)\" (keys: households, notifications, fields\(role == .gridWorker ? ", own_grids" : ""))"))
                    }
                }
                policy.roles[role] = settings
            }
        }

        static func choice<T: RawRepresentable & CaseIterable>(_ text: String, _ key: String) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: text) else {
                throw WanggeError.invalid(tr("\(key): \"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            return value
        }

        static func fields(_ entries: [String: String], over base: FieldRules, _ key: String) throws -> FieldRules {
            var rules = base
            for (name, text) in entries {
                guard let field = PersonalField(rawValue: name) else {
                    throw WanggeError.invalid(tr("\(key): unknown field \"\(name)\" (fields: \(PersonalField.allCases.map(\.rawValue).joined(separator: ", ")))"))
                }
                let access: FieldAccess = try choice(text, "\(key).\(name)")
                guard field.possibleAccess.contains(access) else {
                    throw WanggeError.invalid(tr("\(key).\(name): \(text) is not possible for \(name); use \(field.possibleAccess.map(\.rawValue).joined(separator: " or "))"))
                }
                rules.access[field] = access
            }
            return rules
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let path = try c.decodeIfPresent(String.self, forKey: .database) { database = path }
        readDatabase = try c.decodeIfPresent(String.self, forKey: .readDatabase)
        if let tag = try c.decodeIfPresent(String.self, forKey: .language) {
            guard let chosen = Language(tag: tag) else {
                throw WanggeError.invalid(tr("language: \"\(tag)\" is not zh or en"), field: "language", value: tag, allowed: ["zh", "en"])
            }
            language = chosen
        }
        if let section = try c.decodeIfPresent(AssignmentSection.self, forKey: .assignment) {
            if let m = try Self.nonNegative(section.nearestToleranceM, "assignment.nearest_tolerance_m") { rules.nearestToleranceMeters = m }
            if let m = try Self.nonNegative(section.nearBoundaryM, "assignment.near_boundary_m") { rules.nearBoundaryMeters = m }
        }
        if let fields = try c.decodeIfPresent([String: String].self, forKey: .gridFields) {
            var mapping = GridFieldMapping()
            for (key, value) in fields {
                switch key {
                case "code": mapping.code = value
                case "name": mapping.name = value
                case "village_code": mapping.villageCode = value
                case "village_name": mapping.villageName = value
                case "town_code": mapping.townCode = value
                case "town_name": mapping.townName = value
                case "worker_name": mapping.workerName = value
                case "worker_phone": mapping.workerPhone = value
                default: throw WanggeError.invalid(tr("grid_fields: unknown key \"\(key)\""))
                }
            }
            gridFields = mapping
        }
        if let section = try c.decodeIfPresent([String: OneOrMore].self, forKey: .pointColumns) {
            var names = PointColumnNames()
            for (column, given) in section.sorted(by: { $0.key < $1.key }) { try names.add(given.names, for: column, section: "point_columns") }
            pointColumns = names
        }
        if let section = try c.decodeIfPresent(CoverageSection.self, forKey: .coverage) {
            if let t = section.blindSpotThreshold {
                guard (0...1).contains(t) else { throw WanggeError.invalid(tr("coverage.blind_spot_threshold must be between 0 and 1")) }
                coverage.blindSpotThreshold = t
            }
            if let n = section.patches { coverage.patchesPerGrid = max(0, n) }
            if let m = section.minPatchM2 { coverage.minimumPatchSquareMetres = m }
            for (type, entry) in section.cameraDefaults ?? [:] {
                guard (0...360).contains(entry.fovDeg), entry.rangeM > 0 else {
                    throw WanggeError.invalid(tr("coverage.camera_defaults.\(type): fov_deg must be 0…360 and range_m above 0"))
                }
                let defaults = CameraDefaults(fieldOfViewDegrees: entry.fovDeg, rangeMeters: entry.rangeM)
                if type == "default" { coverage.fallback = defaults } else { coverage.defaults[type] = defaults }
            }
        }
        if let section = try c.decodeIfPresent(WorkloadSection.self, forKey: .workload) {
            if let n = section.workersPerGrid {
                guard n >= 1 else { throw WanggeError.invalid(tr("workload.workers_per_grid must be at least 1")) }
                workload.workersPerGrid = n
            }
            if let u = section.urban { workload.urban = u.standard }
            if let r = section.rural { workload.rural = r.standard }
            if let markers = section.urbanMarkers { workload.urbanMarkers = markers }
            for (village, entry) in section.villages ?? [:] { workload.villages[village] = entry.standard }
            for (key, standard) in [("urban", workload.urban), ("rural", workload.rural)] + workload.villages.map({ ("villages.\($0.key)", $0.value) })
            where standard.minHouseholds > standard.maxHouseholds {
                throw WanggeError.invalid(tr("workload.\(key): min_households is above max_households"))
            }
        }
        if let section = try c.decodeIfPresent(DispatchSection.self, forKey: .dispatch) {
            for (severity, text) in section.severityLevels ?? [:] {
                dispatch.severityLevels[severity] = try Self.level(text, "dispatch.severity_levels.\(severity)")
            }
            if let text = section.defaultLevel { dispatch.defaultLevel = try Self.level(text, "dispatch.default_level") }
            for (text, hours) in section.timeLimitsHours ?? [:] {
                guard hours > 0 else { throw WanggeError.invalid(tr("dispatch.time_limits_hours.\(text) must be above 0")) }
                dispatch.timeLimitHours[try Self.level(text, "dispatch.time_limits_hours")] = hours
            }
            if let departments = section.departments { dispatch.departments = departments }
            if let d = section.defaultDepartment { dispatch.defaultDepartment = d }
            for (key, list) in [("categories", section.categories), ("channels", section.channels)] {
                if let list, list.isEmpty || list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    throw WanggeError.invalid(tr("dispatch.\(key) must list at least one word, none of them empty"))
                }
            }
            if let categories = section.categories { dispatch.categories = categories }
            if let channels = section.channels { dispatch.channels = channels }
            if let stray = dispatch.departments.keys.sorted().first(where: { !dispatch.categories.contains($0) }) {
                throw WanggeError.invalid(tr("dispatch.departments.\(stray): \"\(stray)\" is not in dispatch.categories"))
            }
            if let r = section.duplicateRadiusM { dispatch.duplicateRadiusMeters = r }
            if let w = section.duplicateWindowHours { dispatch.duplicateWindowHours = w }
            if let attempts = section.mediationAttempts {
                var ladder: [HandlingLevel: Int] = [:]
                for (text, count) in attempts {
                    guard count >= 1 else { throw WanggeError.invalid(tr("dispatch.mediation_attempts.\(text) must be at least 1")) }
                    ladder[try Self.level(text, "dispatch.mediation_attempts")] = count
                }
                dispatch.ladder = MediationLadder(attempts: ladder)
            }
            if let seconds = section.escalationScanSeconds {
                guard seconds >= 0 else { throw WanggeError.invalid(tr("dispatch.escalation_scan_seconds must be 0 (off) or more")) }
                dispatch.escalationScanSeconds = seconds
            }
        }
        if let section = try c.decodeIfPresent(PrivacySection.self, forKey: .privacy) { privacy = section.policy }
        if let section = try c.decodeIfPresent(PlanningSection.self, forKey: .planning) {
            if let m = try Self.nonNegative(section.maxOverlapM2, "planning.max_overlap_m2") { planning.maxOverlapSquareMetres = m }
            if let m = try Self.nonNegative(section.maxGapM2, "planning.max_gap_m2") { planning.maxGapSquareMetres = m }
        }
        if let section = try c.decodeIfPresent(WebMapSection.self, forKey: .webMap) {
            if let path = section.leafletDirectory { webMap.leafletDirectory = path }
            if let template = section.baseTiles, !template.isEmpty {
                guard WebMapSettings.origin(ofTiles: template) != nil, ["{z}", "{x}", "{y}"].allSatisfy(template.contains) else {
                    throw WanggeError.invalid(tr("web_map.base_tiles: \"\(template)\" is not an http:// or https:// tile URL with {z}, {x} and {y}, such as http://tiles.intranet/{z}/{x}/{y}.png"))
                }
                webMap.baseTiles = template
            }
            webMap.baseTilesAttribution = section.baseTilesAttribution
            if let d = try Self.positiveSeconds(section.refreshS, "web_map.refresh_s") { webMap.refresh = d }
        }
        if let section = try c.decodeIfPresent(ServerSection.self, forKey: .server) {
            if let text = section.publicURL {
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
                      url.query == nil, url.fragment == nil else {
                    throw WanggeError.invalid(tr("server.public_url: \"\(text)\" is not an http:// or https:// URL such as https://wangge.example.gov.cn"))
                }
                server.publicURL = text
            }
            if let d = try Self.positiveSeconds(section.idleTimeoutS, "server.idle_timeout_s") { server.idleTimeout = d }
            if let d = try Self.positiveSeconds(section.requestTimeoutS, "server.request_timeout_s") { server.requestTimeout = d }
            if let n = section.maxConnections {
                guard n >= 1 else { throw WanggeError.invalid(tr("server.max_connections must be at least 1")) }
                server.maxConnections = n
            }
            if let d = try Self.positiveSeconds(section.maxStandbyLagS, "server.max_standby_lag_s") { server.maxStandbyLag = d }
            if let d = try Self.positiveSeconds(section.databaseTimeoutS, "server.database_timeout_s") { server.databaseTimeout = d }
            if let on = section.locatesOnEventLoop { server.locatesOnEventLoop = on }
        }
    }

    public static let defaultPath = "Config/wangge.yaml"

    /// The built-in defaults, equal to the shipped Config/wangge.yaml.
    public init() {}

    /// The file a configuration comes from, or nil for the built-in defaults.
    public static func resolvedPath(explicitPath: String?) -> String? {
        explicitPath ?? ProcessInfo.processInfo.environment["WANGGE_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
    }

    /// The language output is written in: $WANGGE_LANGUAGE, else `language:` in
    /// the configuration, else the locale's (LC_ALL, LC_MESSAGES, LANG), else English.
    public static func outputLanguage(configured: Language?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Language {
        environment["WANGGE_LANGUAGE"].flatMap(Language.init(tag:)) ?? configured ?? Language.fromLocale(environment: environment) ?? .en
    }

    /// The explicit file, else $WANGGE_CONFIG, else Config/wangge.yaml if it exists, else built-in defaults.
    public static func load(explicitPath: String?) throws -> WanggeConfig {
        guard let path = resolvedPath(explicitPath: explicitPath) else { return WanggeConfig() }
        return try decode(yaml: try text(ofFile: path), source: path)
    }

    /// A configuration file's text; one that cannot be read is an error naming it.
    static func text(ofFile path: String) throws -> String {
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw WanggeError.invalid(tr("\(path): cannot read the configuration file"))
        }
        return text
    }

    /// A configuration from its YAML text; errors begin with `source` (the file's path).
    public static func decode(yaml text: String, source path: String) throws -> WanggeConfig {
        do {
            return try YAMLDecoder().decode(WanggeConfig.self, from: text.isEmpty ? "{}" : text)
        } catch let error as WanggeError {
            throw WanggeError.invalid(tr("\(path): \(error.description)"))
        } catch let error as DecodingError {
            // Yams wraps errors thrown by our own checks; show those as they are.
            if case .dataCorrupted(let context) = error, let inner = context.underlyingError as? WanggeError {
                throw WanggeError.invalid(tr("\(path): \(inner.description)"))
            }
            throw WanggeError.invalid(tr("\(path): \(describe(error))"))
        } catch {
            throw WanggeError.invalid(tr("\(path): \(error)"))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            // The YAML parser's own errors (line and column) come as the underlying error.
            let detail = c.underlyingError.map { "\(c.debugDescription) \($0)" } ?? c.debugDescription
            return c.codingPath.isEmpty ? detail : "\(path(c)): \(detail)"
        case .keyNotFound(let key, let c):
            return "\(path(c)): missing key \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }
}
