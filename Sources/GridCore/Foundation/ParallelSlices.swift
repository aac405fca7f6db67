import Foundation
import Localization

/// Runs `work` over consecutive slices of `0..<count` on every core and returns
/// the slices' results in slice order, as a loop over them would. Slices are
/// handed out one at a time, so a busy core takes fewer. The first error thrown
/// (by slice order) is rethrown after all workers stop.
public func mapSlicesInParallel<Result: Sendable>(count: Int, sliceLength: Int,
                                                  _ work: @Sendable (Range<Int>) throws -> Result) throws -> [Result] {
    let slices = SliceCounter(total: count, sliceLength: max(1, sliceLength))
    let results = SliceResults<Result>(count: slices.sliceCount)
    DispatchQueue.concurrentPerform(iterations: min(GridAssigner.coreCount, max(slices.sliceCount, 1))) { _ in
        while let range = slices.next() {
            let index = range.lowerBound / slices.sliceLength
            do {
                results.set(index, .success(try work(range)))
            } catch {
                results.set(index, .failure(error))
            }
        }
    }
    return try results.values.map { try $0!.get() }
}

private final class SliceResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Swift.Result<Value, any Error>?]

    init(count: Int) { stored = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Swift.Result<Value, any Error>) {
        lock.withLock { stored[index] = value }
    }

    var values: [Swift.Result<Value, any Error>?] { lock.withLock { stored } }
}

/// Work begun on a thread of its own and joined later, so that the caller does
/// something else meanwhile: an import checks its next batch while SQLite writes
/// this one. What the work touches is the caller's to leave alone until `join`.
public final class BackgroundWork<Value>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?
    private var joined = false

    public init(_ work: @escaping () throws -> Value) {
        // Not Sendable, and need not be: nothing else runs it, and the caller waits in `join` for it.
        nonisolated(unsafe) let work = work
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            outcome = Result(catching: work)
            finished.signal()
        }
    }

    /// Waits for the work and gives its value or rethrows its error (once; later calls answer the same).
    public func join() throws -> Value {
        if !joined {
            finished.wait()
            joined = true
        }
        return try outcome!.get()
    }
}

/// Frees values on a thread of its own: the caller hands over its last
/// reference, and the value's storage (a batch of records and their strings)
/// is released there. An import's writer, the one thread its pace depends
/// on, spent a fifteenth of its time freeing the batches it had written.
public enum BackgroundRelease {
    private static let queue = DispatchQueue(label: "wangge.background-release", qos: .utility)

    public static func release<Value: Sendable>(_ value: consuming Value) {
        let last = value
        queue.async { withExtendedLifetime(last) {} }
    }
}

/// One long task on a thread of its own, which `join` waits out to its end: a
/// Foundation `Thread` runs on past the work (its exit, its storage), so it
/// could outlive the call that started it.
public final class JoinedThread: @unchecked Sendable {
    private final class Work {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private let thread: pthread_t
    private var joined = false

    /// Starts `body` now; throws `unavailable` when the system has no thread to give.
    public init(_ body: @escaping @Sendable () -> Void) throws {
        let work = Unmanaged.passRetained(Work(body))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Work>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, work.toOpaque())
        guard status == 0 else {
            work.release()
            throw WanggeError(.unavailable, tr("cannot start a thread (\(String(cString: strerror(status)))); try again"))
        }
        self.thread = thread
    }

    /// Waits until the thread has ended (once; later calls return at once).
    public func join() {
        guard !joined else { return }
        joined = true
        let status = pthread_join(thread, nil)
        precondition(status == 0, "pthread_join: \(status)")
    }

    deinit { join() }
}
