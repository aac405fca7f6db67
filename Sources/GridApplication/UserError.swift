/// Errors for the user: printed as they are (the command-line tool exits with status 1).
public struct UserError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
