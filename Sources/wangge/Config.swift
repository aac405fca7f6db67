import Foundation
import GridCore
import GridStore
import Yams

/// The configuration file (Config/wangge.yaml), documented line by line there.
struct WanggeConfig: Decodable {
    var database = "var/wangge.sqlite"
    var assignment = Assignment()
    var gridFields = GridFieldMapping()

    struct Assignment: Decodable {
        var nearestToleranceM: Double = 50
        var nearBoundaryM: Double = 20

        enum CodingKeys: String, CodingKey {
            case nearestToleranceM = "nearest_tolerance_m", nearBoundaryM = "near_boundary_m"
        }

        init() {}

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            nearestToleranceM = try c.decodeIfPresent(Double.self, forKey: .nearestToleranceM) ?? 50
            nearBoundaryM = try c.decodeIfPresent(Double.self, forKey: .nearBoundaryM) ?? 20
            guard nearestToleranceM >= 0 else { throw UserError("assignment.nearest_tolerance_m must be ≥ 0") }
            guard nearBoundaryM >= 0 else { throw UserError("assignment.near_boundary_m must be ≥ 0") }
        }
    }

    enum CodingKeys: String, CodingKey {
        case database, assignment, gridFields = "grid_fields"
    }

    init() {}

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        database = try c.decodeIfPresent(String.self, forKey: .database) ?? "var/wangge.sqlite"
        assignment = try c.decodeIfPresent(Assignment.self, forKey: .assignment) ?? Assignment()
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
                default: throw UserError("grid_fields: unknown key \"\(key)\"")
                }
            }
            gridFields = mapping
        }
    }

    var rules: AssignmentRules {
        AssignmentRules(nearestToleranceMeters: assignment.nearestToleranceM, nearBoundaryMeters: assignment.nearBoundaryM)
    }

    static let defaultPath = "Config/wangge.yaml"

    /// The explicit file, else $WANGGE_CONFIG, else Config/wangge.yaml if it exists, else built-in defaults.
    static func load(explicitPath: String?) throws -> WanggeConfig {
        let path = explicitPath ?? ProcessInfo.processInfo.environment["WANGGE_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
        guard let path else { return WanggeConfig() }
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw UserError("\(path): cannot read the configuration file")
        }
        do {
            return try YAMLDecoder().decode(WanggeConfig.self, from: text.isEmpty ? "{}" : text)
        } catch let error as UserError {
            throw UserError("\(path): \(error.description)")
        } catch let error as DecodingError {
            throw UserError("\(path): \(describe(error))")
        } catch {
            throw UserError("\(path): \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(path(c)): \(c.debugDescription)"
        case .keyNotFound(let key, let c):
            return "\(path(c)): missing key \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }
}
