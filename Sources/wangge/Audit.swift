import ArgumentParser
import GridApplication
import GridStore
import Localization

extension Wangge {
    /// `wangge audit`: who read personal data in full, as `GET /v1/audit` gives it to an admin.
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "audit",
            abstract: tr("Who read personal data in full (names, phone and ID numbers unmasked): when, with which token and role, what and how many records; newest first.").rendered)

        @OptionGroup var store: StoreOptions

        static let limits = GridService.auditLogLimits

        @Option(help: ArgumentHelp(tr("How many entries (\(limits.lowerBound)–\(limits.upperBound)).").rendered))
        var limit = 100

        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered))
        var json = false

        func validate() throws {
            guard Self.limits.contains(limit) else {
                throw ValidationError(tr("--limit must be between \(Self.limits.lowerBound) and \(Self.limits.upperBound)").rendered)
            }
        }

        func run() throws {
            let entries = try store.openService().auditLog(limit: limit)
            if json {
                print(try jsonText(entries))
                return
            }
            print(table([tr("time"), tr("token"), tr("role"), tr("read"), tr("grid"), tr("records")], entries.map {
                [localTime($0.at), $0.caller, Role.text(of: $0.role), $0.action, $0.grid ?? "", String($0.records)]
            }, rightAligned: [5]))
        }
    }
}
