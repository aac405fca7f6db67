import Foundation

/// A personal field of a household or an incident, as the privacy policy names it.
public enum PersonalField: String, Sendable, CaseIterable {
    /// A household's head, an incident's reporter, the people in an incident's history.
    case name
    case phone
    case idNumber = "id_number"
    /// A household's address.
    case address
    /// The exact place of a household or an incident (and the places in an incident's history).
    case position
    /// Household tags such as 独居老人.
    case tags
    /// An incident's description and the notes in its history: free text that may name people.
    case freeText = "free_text"

    /// The levels of access this field can be given: tags and free text cannot be masked,
    /// a position cannot be hidden (it only becomes coarse).
    public var possibleAccess: [FieldAccess] {
        switch self {
        case .tags, .freeText: [.full, .hidden]
        case .position: [.full, .masked]
        case .name, .phone, .idNumber, .address: [.full, .masked, .hidden]
        }
    }
}

/// How much of a personal field a caller sees.
public enum FieldAccess: String, Sendable, CaseIterable {
    /// As stored.
    case full
    /// 张*, 138****1234, 4309**********1234, 和平路**号; a position rounded to 0.001° (about 100 m).
    case masked
    /// Left out (null; tags empty).
    case hidden
}

/// Whether a role gets household records or only their counts.
public enum HouseholdAccess: String, Sendable, CaseIterable {
    case records, counts
}

/// Which notifications a role reads.
public enum NotificationAccess: String, Sendable, CaseIterable {
    /// Every unit's.
    case all
    /// Those for its own units: its grids, their villages and towns (grid workers).
    case own
    /// None (403).
    case none
}

/// What one audience sees of each personal field.
public struct FieldRules: Sendable, Equatable {
    public var access: [PersonalField: FieldAccess]

    public init(_ access: [PersonalField: FieldAccess]) { self.access = access }

    public static let everything = FieldRules(Dictionary(uniqueKeysWithValues: PersonalField.allCases.map { ($0, .full) }))

    public subscript(field: PersonalField) -> FieldAccess { access[field] ?? .hidden }

    /// A text field as this audience may see it. Free text shown in full still
    /// has the phone and ID numbers in it shown as those fields are.
    public func show(_ field: PersonalField, _ value: String?) -> String? {
        switch self[field] {
        case .full: field == .freeText ? value.map { numbersShown(in: $0) } : value
        case .hidden: nil
        case .masked:
            switch field {
            case .name: Mask.name(value)
            case .phone: Mask.phone(value)
            case .idNumber: Mask.idNumber(value)
            case .address: Mask.address(value)
            case .position, .tags, .freeText: nil
            }
        }
    }

    /// Text with every mobile number (11 digits from 1) and ID number (17 digits
    /// and a digit or X) in it shown as the phone and id_number fields are;
    /// a hidden one becomes stars. Names in free text cannot be told apart: that is
    /// what hiding free_text is for.
    func numbersShown(in text: String) -> String {
        guard self[.phone] != .full || self[.idNumber] != .full else { return text }
        var shown = "", run = ""
        func flush() {
            let field: PersonalField? = run.count == 18 ? .idNumber : run.count == 11 && run.first == "1" && !run.contains("X") ? .phone : nil
            shown += field.map { self.show($0, run) ?? String(repeating: "*", count: run.count) } ?? run
            run = ""
        }
        for character in text {
            if character.isASCII && (character.isNumber || (run.count == 17 && (character == "X" || character == "x"))) {
                run.append(character)
            } else {
                flush()
                shown.append(character)
            }
        }
        flush()
        return shown
    }

    /// A coordinate as this audience may see it.
    public func show(coordinate value: Double) -> Double {
        self[.position] == .full ? value : Mask.coordinate(value)
    }

    /// Whether a record shown with these rules reveals who someone is (name, phone
    /// or ID number in full): such reads are written to the audit log.
    public var revealsIdentity: Bool { [PersonalField.name, .phone, .idNumber].contains { self[$0] == .full } }
}

/// What one role sees.
public struct RolePrivacy: Sendable, Equatable {
    public var households: HouseholdAccess
    public var notifications: NotificationAccess
    public var fields: FieldRules
    /// For grid workers: what they see inside their own grids.
    public var ownGrids: FieldRules?

    public init(households: HouseholdAccess, notifications: NotificationAccess, fields: FieldRules, ownGrids: FieldRules? = nil) {
        self.households = households
        self.notifications = notifications
        self.fields = fields
        self.ownGrids = ownGrids
    }
}

/// Which personal fields each role may see: the `privacy:` section of
/// Config/wangge.yaml, whose shipped values are `defaults`.
public struct PrivacyPolicy: Sendable, Equatable {
    public var roles: [Role: RolePrivacy]

    public init(roles: [Role: RolePrivacy]) { self.roles = roles }

    public static let defaults: PrivacyPolicy = {
        func rules(name: FieldAccess, phone: FieldAccess, idNumber: FieldAccess, address: FieldAccess, position: FieldAccess,
                   tags: FieldAccess, freeText: FieldAccess) -> FieldRules {
            FieldRules([.name: name, .phone: phone, .idNumber: idNumber, .address: address, .position: position, .tags: tags, .freeText: freeText])
        }
        let identityMasked = rules(name: .masked, phone: .masked, idNumber: .masked, address: .full, position: .full, tags: .full, freeText: .full)
        return PrivacyPolicy(roles: [
            .admin: RolePrivacy(households: .records, notifications: .all, fields: .everything),
            .planner: RolePrivacy(households: .records, notifications: .none, fields: identityMasked),
            .dispatcher: RolePrivacy(households: .records, notifications: .all, fields: identityMasked),
            .gridWorker: RolePrivacy(households: .records, notifications: .own,
                                     fields: rules(name: .masked, phone: .masked, idNumber: .masked, address: .masked, position: .full,
                                                   tags: .hidden, freeText: .full),
                                     ownGrids: .everything),
            .viewer: RolePrivacy(households: .counts, notifications: .none,
                                 fields: rules(name: .hidden, phone: .hidden, idNumber: .hidden, address: .hidden, position: .masked,
                                               tags: .hidden, freeText: .hidden)),
        ])
    }()

    /// A role's settings (a role the policy leaves out sees nothing personal).
    public func role(_ role: Role) -> RolePrivacy {
        roles[role] ?? RolePrivacy(households: .counts, notifications: .none, fields: FieldRules([:]))
    }

    /// What a caller sees of a record in a grid (nil: in no grid).
    public func rules(for caller: Caller, inGrid grid: String?) -> FieldRules {
        let settings = role(caller.role)
        if caller.role == .gridWorker, let own = settings.ownGrids, let grid, caller.grids.contains(grid) { return own }
        return settings.fields
    }
}
