import Foundation
import GeoKit
import GridCore
import GridStore

extension WanggeError {
    /// Any error a use case lets through, as the one error users see; nil for
    /// an unexpected failure (a bug or an I/O fault), which front ends log and
    /// report as such. The only place the lower layers' error types are read.
    public static func from(_ error: any Error) -> WanggeError? {
        switch error {
        case let error as WanggeError:
            return error
        case let error as StoreError:
            return WanggeError(error.message.hasPrefix("no ") ? .notFound : .invalid, error.message)
        case let error as UnknownAreaError:
            return WanggeError(.notFound, error.description, field: error.level.rawValue, value: error.value,
                               allowed: error.suggestion.map { [$0] })
        case let error as VocabularyError:
            return WanggeError(.invalid, error.description, field: error.field.rawValue, value: error.value, allowed: error.allowed)
        case let error as RoutingRefusal:
            return WanggeError(.refused, "refused: \(error)", field: "lon")
        case let error as IllegalTransition:
            return WanggeError(.conflict, error.description, field: "action", value: error.action.rawValue)
        case let error as IncidentError:
            switch error {
            case .notFound: return WanggeError(.notFound, error.description)
            case .illegal(let transition): return from(transition)
            case .conflict: return WanggeError(.conflict, error.description, field: "version")
            case .invalid: return WanggeError(.invalid, error.description)
            }
        case let error as PlanError:
            return WanggeError(.refused, error.message)
        case let error as GeoError:
            return WanggeError(.invalid, error.message)
        case let error where SpatiaLiteDatabase.isBusy(error):
            return WanggeError(.unavailable, "the database is busy with another writer (an import or an activation); try again in a few seconds",
                               cause: "\(error)")
        default:
            return nil
        }
    }
}

/// Runs a use case's body, letting through only `WanggeError`s (and unexpected failures as they are).
func translatingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw WanggeError.from(error) ?? error
    }
}
