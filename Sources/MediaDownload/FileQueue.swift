import Dispatch

/// Runs the worker's blocking file-system calls (open, fsync, rename, mkdir) one
/// after another on a dispatch queue of their own, never on Swift's cooperative
/// threads. Writes of downloaded bytes happen on the Graph client's transfer thread.
final class FileQueue: Sendable {
    private let queue = DispatchQueue(label: "cloudchat.media.files")

    /// Runs `body` on the queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
