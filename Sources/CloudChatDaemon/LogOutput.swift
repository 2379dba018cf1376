#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where log lines go: standard error in the daemon, a buffer in tests.
///
/// Each call of ``write(line:)`` hands over one whole line, and lines from
/// different threads never interleave.
public final class LogOutput: Sendable {
    private let sink: @Sendable (String) -> Void

    /// Standard error, where systemd's journal (or the terminal) takes the lines.
    public static let standardError = LogOutput(fileDescriptor: STDERR_FILENO)

    /// Writes lines to an open file descriptor, which stays open.
    /// - Parameter fileDescriptor: e.g. `STDERR_FILENO`.
    public convenience init(fileDescriptor: Int32) {
        let lock = Mutex(())
        self.init { line in
            lock.withLock { _ in writeAll(line, to: fileDescriptor) }
        }
    }

    /// Hands each line to a closure, e.g. one that appends it to a buffer.
    /// - Parameter sink: called once per record with the line and its newline; calls may come from any thread.
    public init(_ sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    /// Writes one line; the newline is added here.
    /// - Parameter line: the encoded record, without a newline.
    public func write(line: String) {
        sink(line + "\n")
    }
}

/// Writes every byte, going on after a partial write or an interruption. A failing
/// descriptor (a closed pipe) drops the line: there is nowhere to report it.
private func writeAll(_ line: String, to fileDescriptor: Int32) {
    let bytes = Array(line.utf8)
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EINTR || errno == EAGAIN) {
                continue
            } else {
                return
            }
        }
    }
}
