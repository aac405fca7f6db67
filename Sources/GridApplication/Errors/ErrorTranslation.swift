import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

extension WanggeError {
    /// Any error a use case lets through, as the one error users see; nil for
    /// an unexpected failure (a bug or an I/O fault), which front ends log and
    /// report as such. The only place the lower layers' error types are read.
    public static func from(_ error: any Error) -> WanggeError? {
        switch error {
        case let error as WanggeError:
            return error
        case let error as ExportError:
            return error.asWanggeError
        case let error as GeoError:
            return WanggeError(.invalid, error.text)
        case let error where SpatiaLiteDatabase.isBusy(error):
            return WanggeError(.unavailable, tr("the database is busy with another writer (an import or an activation); try again in a few seconds"),
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
