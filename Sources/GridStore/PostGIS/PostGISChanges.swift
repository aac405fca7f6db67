import Foundation
import GridCore
import Localization

/// What another process changed in a shared database, as it announced it (NOTIFY on channel `wangge`).
public enum StoreChange: Sendable, Equatable {
    /// A generation became active (an import of grids, an activation, a rollback).
    case activated(Int64)
    /// A token was revoked.
    case tokenRevoked(Int64)
    /// A configuration was stored in the database or cleared (`wangge config push|clear`): its version.
    case configured(Int64)
    /// The listening connection was opened again: announcements made while it was down are lost, so assume anything changed.
    case reconnected
    /// The listening connection was opened for the first time: the generation or the configuration may have
    /// changed since the process read them, so look again; a token cached since is kept (its 5 s bound holds).
    case listening

    init?(payload: String) {
        let words = payload.split(separator: " ")
        guard words.count == 2, let id = Int64(words[1]) else { return nil }
        switch words[0] {
        case "activated": self = .activated(id)
        case "revoked": self = .tokenRevoked(id)
        case "configured": self = .configured(id)
        default: return nil
        }
    }
}

extension PostGISStore {
    /// Waits up to `timeout` seconds for announcements from the other processes on this
    /// database, on a connection of its own that LISTENs. A lost connection is opened again on
    /// the next call (and says `reconnected`); a database that is down is an `unavailable` error.
    public func waitForChanges(timeout: TimeInterval) throws -> [StoreChange] {
        try listener.withLock { listening in
            var changes: [StoreChange] = []
            if listening.connection?.isHealthy != true {
                listening.connection = nil
                let fresh = try database.connect()
                try fresh.execute("LISTEN wangge")
                listening.connection = fresh
                changes.append(listening.hasListened ? .reconnected : .listening)
                listening.hasListened = true
            }
            let connection = listening.connection
            do {
                guard let connection else { return changes }
                changes += try connection.notifications(waiting: timeout).compactMap { StoreChange(payload: $0.payload) }
                // A standby may not have replayed what was announced: the reads that follow must see it.
                if !changes.isEmpty { try database.mustSeePrimary(connection) }
                return changes
            } catch {
                listening.connection = nil
                throw WanggeError(.unavailable, tr("\(database.url.description): the database connection was lost; try again in a few seconds"),
                                  cause: "\(error)")
            }
        }
    }
}
