import Foundation
import GridCore
import GridStore
import Yams
import Localization

/// The configuration file (Config/wangge.yaml), documented line by line there.
public struct WanggeConfig {
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

    /// A number of seconds above 0, at most a day.
    static func positiveSeconds(_ value: Double?, _ key: String) throws -> Duration? {
        guard let value else { return nil }
        guard value > 0, value <= 86_400 else { throw WanggeError.invalid(tr("\(key) must be a number of seconds above 0 and at most 86400")) }
        return .milliseconds(Int64((value * 1000).rounded()))
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

    static func standard(_ entry: ConfigNode) throws -> WorkloadStandard {
        WorkloadStandard(minHouseholds: try entry.required("min_households").int(), maxHouseholds: try entry.required("max_households").int())
    }

    /// The privacy section: per role, what it sees; keys left out keep the built-in defaults.
    static func privacyPolicy(_ section: ConfigNode) throws -> PrivacyPolicy {
        var policy = PrivacyPolicy.defaults
        for (roleName, roleSection) in try section.entries() {
            guard let role = Role(rawValue: roleName) else {
                throw WanggeError.invalid(tr("privacy: unknown role \"\(roleName)\" (roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            let path = "privacy.\(role.rawValue)"
            var settings = policy.role(role)
            for (name, value) in try roleSection.entries() {
                switch name {
                case "households":
                    settings.households = try choice(try value.string(), "\(path).households")
                case "notifications":
                    settings.notifications = try choice(try value.string(), "\(path).notifications")
                case "fields":
                    settings.fields = try fields(try value.stringMap(), over: settings.fields, "\(path).fields")
                case "own_grids":
                    guard role == .gridWorker else { throw WanggeError.invalid(tr("\(path).own_grids: only grid_worker has own grids")) }
                    settings.ownGrids = try fields(try value.stringMap(), over: settings.ownGrids ?? settings.fields, "\(path).own_grids")
                default:
                    throw WanggeError.invalid(tr("\(path): unknown key \"\(name)\" (keys: households, notifications, fields\(role == .gridWorker ? ", own_grids" : ""))"))
                }
            }
            policy.roles[role] = settings
        }
        return policy
    }

    static func choice<T: RawRepresentable & CaseIterable>(_ text: String, _ key: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw WanggeError.invalid(tr("\(key): \"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return value
    }

    static func fields(_ entries: [(key: String, value: String)], over base: FieldRules, _ key: String) throws -> FieldRules {
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

    /// The configuration of a YAML document's root (keys it does not know are ignored).
    init(_ root: ConfigNode) throws {
        _ = try root.entries() // the root must be a mapping
        if let path = try root["database"]?.string() { database = path }
        readDatabase = try root["read_database"]?.string()
        if let tag = try root["language"]?.string() {
            guard let chosen = Language(tag: tag) else {
                throw WanggeError.invalid(tr("language: \"\(tag)\" is not zh or en"), field: "language", value: tag, allowed: ["zh", "en"])
            }
            language = chosen
        }
        if let section = try root.section("assignment") {
            if let m = try Self.nonNegative(try section["nearest_tolerance_m"]?.double(), "assignment.nearest_tolerance_m") { rules.nearestToleranceMeters = m }
            if let m = try Self.nonNegative(try section["near_boundary_m"]?.double(), "assignment.near_boundary_m") { rules.nearBoundaryMeters = m }
        }
        if let fields = try root["grid_fields"]?.stringMap() {
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
        if let section = try root["point_columns"]?.entries() {
            var names = PointColumnNames()
            // One name or a list of names (`head: 户主名` or `head: [户主名, 家长]`).
            for (column, given) in section.sorted(by: { $0.key < $1.key }) {
                try names.add(try given.isSequence ? given.strings() : [given.string()], for: column, section: "point_columns")
            }
            pointColumns = names
        }
        if let section = try root.section("coverage") {
            if let t = try section["blind_spot_threshold"]?.double() {
                guard (0...1).contains(t) else { throw WanggeError.invalid(tr("coverage.blind_spot_threshold must be between 0 and 1")) }
                coverage.blindSpotThreshold = t
            }
            if let n = try section["patches"]?.int() { coverage.patchesPerGrid = max(0, n) }
            if let m = try section["min_patch_m2"]?.double() { coverage.minimumPatchSquareMetres = m }
            for (type, entry) in try section["camera_defaults"]?.entries() ?? [] {
                let fov = try entry.required("fov_deg").double(), range = try entry.required("range_m").double()
                guard (0...360).contains(fov), range > 0 else {
                    throw WanggeError.invalid(tr("coverage.camera_defaults.\(type): fov_deg must be 0…360 and range_m above 0"))
                }
                let defaults = CameraDefaults(fieldOfViewDegrees: fov, rangeMeters: range)
                if type == "default" { coverage.fallback = defaults } else { coverage.defaults[type] = defaults }
            }
        }
        if let section = try root.section("workload") {
            if let n = try section["workers_per_grid"]?.int() {
                guard n >= 1 else { throw WanggeError.invalid(tr("workload.workers_per_grid must be at least 1")) }
                workload.workersPerGrid = n
            }
            if let u = try section.section("urban") { workload.urban = try Self.standard(u) }
            if let r = try section.section("rural") { workload.rural = try Self.standard(r) }
            if let markers = try section["urban_markers"]?.strings() { workload.urbanMarkers = markers }
            for (village, entry) in try section["villages"]?.entries() ?? [] { workload.villages[village] = try Self.standard(entry) }
            for (key, standard) in [("urban", workload.urban), ("rural", workload.rural)] + workload.villages.map({ ("villages.\($0.key)", $0.value) })
            where standard.minHouseholds > standard.maxHouseholds {
                throw WanggeError.invalid(tr("workload.\(key): min_households is above max_households"))
            }
        }
        if let section = try root.section("dispatch") {
            for (severity, text) in try section["severity_levels"]?.stringMap() ?? [] {
                dispatch.severityLevels[severity] = try Self.level(text, "dispatch.severity_levels.\(severity)")
            }
            if let text = try section["default_level"]?.string() { dispatch.defaultLevel = try Self.level(text, "dispatch.default_level") }
            for (text, entry) in try section["time_limits_hours"]?.entries() ?? [] {
                let hours = try entry.double()
                guard hours > 0 else { throw WanggeError.invalid(tr("dispatch.time_limits_hours.\(text) must be above 0")) }
                dispatch.timeLimitHours[try Self.level(text, "dispatch.time_limits_hours")] = hours
            }
            if let departments = try section["departments"]?.stringMap() {
                dispatch.departments = Dictionary(departments.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            }
            if let d = try section["default_department"]?.string() { dispatch.defaultDepartment = d }
            let categories = try section["categories"]?.strings(), channels = try section["channels"]?.strings()
            for (key, list) in [("categories", categories), ("channels", channels)] {
                if let list, list.isEmpty || list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    throw WanggeError.invalid(tr("dispatch.\(key) must list at least one word, none of them empty"))
                }
            }
            if let categories { dispatch.categories = categories }
            if let channels { dispatch.channels = channels }
            if let stray = dispatch.departments.keys.sorted().first(where: { !dispatch.categories.contains($0) }) {
                throw WanggeError.invalid(tr("dispatch.departments.\(stray): \"\(stray)\" is not in dispatch.categories"))
            }
            if let r = try section["duplicate_radius_m"]?.double() { dispatch.duplicateRadiusMeters = r }
            if let w = try section["duplicate_window_hours"]?.double() { dispatch.duplicateWindowHours = w }
            if let attempts = try section["mediation_attempts"]?.entries() {
                var ladder: [HandlingLevel: Int] = [:]
                for (text, entry) in attempts {
                    let count = try entry.int()
                    guard count >= 1 else { throw WanggeError.invalid(tr("dispatch.mediation_attempts.\(text) must be at least 1")) }
                    ladder[try Self.level(text, "dispatch.mediation_attempts")] = count
                }
                dispatch.ladder = MediationLadder(attempts: ladder)
            }
            if let seconds = try section["escalation_scan_seconds"]?.double() {
                guard seconds >= 0 else { throw WanggeError.invalid(tr("dispatch.escalation_scan_seconds must be 0 (off) or more")) }
                dispatch.escalationScanSeconds = seconds
            }
        }
        if let section = try root.section("privacy") { privacy = try Self.privacyPolicy(section) }
        if let section = try root.section("planning") {
            if let m = try Self.nonNegative(try section["max_overlap_m2"]?.double(), "planning.max_overlap_m2") { planning.maxOverlapSquareMetres = m }
            if let m = try Self.nonNegative(try section["max_gap_m2"]?.double(), "planning.max_gap_m2") { planning.maxGapSquareMetres = m }
        }
        if let section = try root.section("web_map") {
            if let path = try section["leaflet_directory"]?.string() { webMap.leafletDirectory = path }
            if let template = try section["base_tiles"]?.string(), !template.isEmpty {
                guard WebMapSettings.origin(ofTiles: template) != nil, ["{z}", "{x}", "{y}"].allSatisfy(template.contains) else {
                    throw WanggeError.invalid(tr("web_map.base_tiles: \"\(template)\" is not an http:// or https:// tile URL with {z}, {x} and {y}, such as http://tiles.intranet/{z}/{x}/{y}.png"))
                }
                webMap.baseTiles = template
            }
            webMap.baseTilesAttribution = try section["base_tiles_attribution"]?.string()
            if let d = try Self.positiveSeconds(try section["refresh_s"]?.double(), "web_map.refresh_s") { webMap.refresh = d }
        }
        if let section = try root.section("server") {
            if let text = try section["public_url"]?.string() {
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
                      url.query == nil, url.fragment == nil else {
                    throw WanggeError.invalid(tr("server.public_url: \"\(text)\" is not an http:// or https:// URL such as https://wangge.example.gov.cn"))
                }
                server.publicURL = text
            }
            if let d = try Self.positiveSeconds(try section["idle_timeout_s"]?.double(), "server.idle_timeout_s") { server.idleTimeout = d }
            if let d = try Self.positiveSeconds(try section["request_timeout_s"]?.double(), "server.request_timeout_s") { server.requestTimeout = d }
            if let n = try section["max_connections"]?.int() {
                guard n >= 1 else { throw WanggeError.invalid(tr("server.max_connections must be at least 1")) }
                server.maxConnections = n
            }
            if let d = try Self.positiveSeconds(try section["max_standby_lag_s"]?.double(), "server.max_standby_lag_s") { server.maxStandbyLag = d }
            if let d = try Self.positiveSeconds(try section["database_timeout_s"]?.double(), "server.database_timeout_s") { server.databaseTimeout = d }
            if let on = try section["locates_on_event_loop"]?.bool() { server.locatesOnEventLoop = on }
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
            guard let root = try Yams.compose(yaml: text) else { return WanggeConfig() }
            return try WanggeConfig(ConfigNode(root, path: ""))
        } catch let error as WanggeError {
            throw WanggeError.invalid(tr("\(path): \(error.text)"))
        } catch {
            // The YAML parser's own errors (line and column).
            throw WanggeError.invalid(tr("\(path): \(error)"))
        }
    }
}

/// A node of the configuration's YAML and the keys that lead to it, read
/// by hand rather than through `Codable`: each type Yams' decoder decodes
/// is a dynamic cast, the first of each a scan of the runtime's 10,000
/// conformance records, 3 ms of every command (perf, `wangge locate` of one row).
struct ConfigNode {
    let node: Node
    /// The keys from the root, dotted (`server.idle_timeout_s`).
    let path: String

    init(_ node: Node, path: String) {
        self.node = node
        self.path = path
        pairs = Self.pairs(of: node)
    }

    /// A mapping's keys and values, YAML's merge keys (`<<: *base`) resolved as Yams'
    /// decoder resolves them: the merged ones first, the mapping's own after them, and
    /// of a key given twice the later counts. Nil for a scalar or a list.
    private let pairs: [(key: Node, value: Node)]?

    private static func pairs(of node: Node) -> [(key: Node, value: Node)]? {
        guard let mapping = node.mapping else { return nil }
        var merged: [(key: Node, value: Node)] = [], own: [(key: Node, value: Node)] = []
        for (key, value) in mapping {
            guard key.tag.rawValue == Tag.Name.merge.rawValue else {
                own.append((key, value))
                continue
            }
            // Of a list of mappings, the first counts most: it comes last.
            for source in value.mapping.map({ [Node.mapping($0)] }) ?? value.sequence.map({ Array($0.reversed()) }) ?? [] {
                merged += pairs(of: source) ?? []
            }
        }
        return merged + own
    }

    /// A key's value in this mapping: nil when the key is absent or its value null (`key:` or `key: ~`).
    subscript(_ key: String) -> ConfigNode? {
        guard let value = pairs?.last(where: { $0.key.scalar?.string == key })?.value, value.null == nil else { return nil }
        return ConfigNode(value, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// A key's section (keys and values under it), nil when absent; a scalar or a list there is an error.
    func section(_ key: String) throws -> ConfigNode? {
        guard let value = self[key] else { return nil }
        guard value.pairs != nil else { throw value.expected(tr("keys and values (key: value)")) }
        return value
    }

    /// A key's value that must be there.
    func required(_ key: String) throws -> ConfigNode {
        guard let value = self[key] else { throw WanggeError.invalid(tr("\(place): missing key \(key)")) }
        return value
    }

    var isSequence: Bool { node.sequence != nil }

    /// Where the node is, for messages.
    private var place: Localized {
        let name: Localized = path.isEmpty ? tr("the configuration") : .verbatim(path)
        guard let line = node.mark?.line else { return name }
        return tr("\(name) (line \(line))")
    }

    private func expected(_ what: Localized) -> WanggeError {
        WanggeError.invalid(tr("\(place): expected \(what)"))
    }

    func string() throws -> String {
        guard let scalar = node.scalar else { throw expected(tr("a text")) }
        return scalar.string
    }

    func double() throws -> Double {
        guard let scalar = node.scalar, let value = Double.construct(from: scalar) else {
            throw expected(tr("a number, found \"\(node.scalar?.string ?? "…")\""))
        }
        return value
    }

    func int() throws -> Int {
        guard let scalar = node.scalar, let value = Int.construct(from: scalar) else {
            throw expected(tr("a whole number, found \"\(node.scalar?.string ?? "…")\""))
        }
        return value
    }

    func bool() throws -> Bool {
        guard let scalar = node.scalar, let value = Bool.construct(from: scalar) else {
            throw expected(tr("true or false, found \"\(node.scalar?.string ?? "…")\""))
        }
        return value
    }

    /// A list of texts.
    func strings() throws -> [String] {
        guard let sequence = node.sequence else { throw expected(tr("a list")) }
        return try sequence.enumerated().map { try ConfigNode($1, path: "\(path)[\($0)]").string() }
    }

    /// A mapping's keys and values, in the file's order.
    func entries() throws -> [(key: String, value: ConfigNode)] {
        guard let pairs else { throw expected(tr("keys and values (key: value)")) }
        return try pairs.map { key, value in
            guard let name = key.scalar?.string else { throw expected(tr("keys that are texts")) }
            return (name, ConfigNode(value, path: path.isEmpty ? name : "\(path).\(name)"))
        }
    }

    /// A mapping of texts to texts, in the file's order.
    func stringMap() throws -> [(key: String, value: String)] {
        try entries().map { ($0.key, try $0.value.string()) }
    }

}
