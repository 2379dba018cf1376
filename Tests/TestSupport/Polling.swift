import Foundation

/// The condition a test waited for did not come true in time.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` until it holds, failing the test instead of hanging when it never does.
public func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(description: "timed out after \(timeout) waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A gate a blocking closure (on a connection thread) waits at until the test opens it.
public final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    public init() {}
    /// Blocks the calling thread until ``open()``; never call it from the cooperative pool.
    public func wait() { semaphore.wait() }
    /// Lets one waiter through.
    public func open() { semaphore.signal() }
}
