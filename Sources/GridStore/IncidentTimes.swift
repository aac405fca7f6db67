import GridCore

// Inside the store incident times are in the stored form (UTC), where they
// compare as text and are written back as read; the records a query returns
// carry them as people see them (`TimePolicy.displayed`), converted here only.

extension IncidentRecord {
    /// The record with every time (its history's and notifications' too) in the display zone.
    func displayed(_ policy: TimePolicy = GridStore.timePolicy) -> IncidentRecord {
        var shown = self
        shown.reportedAt = reportedAt.map { policy.displayed(stored: $0) }
        shown.deadline = deadline.map { policy.displayed(stored: $0) }
        shown.closedAt = closedAt.map { policy.displayed(stored: $0) }
        shown.occurredAt = occurredAt.map { policy.displayed(stored: $0) }
        shown.history = history?.map { $0.displayed(policy) }
        shown.notifications = notifications?.map { $0.displayed(policy) }
        return shown
    }
}

extension IncidentEvent {
    /// Times in an event's detail: the deadline an escalation set.
    static let timeDetails: Set<String> = ["deadline"]

    func displayed(_ policy: TimePolicy = GridStore.timePolicy) -> IncidentEvent {
        var shown = self
        shown.at = policy.displayed(stored: at)
        shown.detail = detail.map { detail in
            Dictionary(uniqueKeysWithValues: detail.map { key, value in
                (key, Self.timeDetails.contains(key) && !value.isEmpty ? policy.displayed(stored: value) : value)
            })
        }
        shown.reason = reason?.mappingTimes { policy.displayed(stored: $0) }
        return shown
    }
}

extension IncidentNotification {
    func displayed(_ policy: TimePolicy = GridStore.timePolicy) -> IncidentNotification {
        var shown = self
        shown.at = policy.displayed(stored: at)
        shown.reason = reason.mappingTimes { policy.displayed(stored: $0) }
        return shown
    }
}
