#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Tells systemd about the daemon's state, as `sd_notify(3)` does, without libsystemd:
/// one datagram of `KEY=value` lines to the unix socket named by `$NOTIFY_SOCKET`.
///
/// ```swift
/// if let systemd = SystemdNotifier() { try systemd.notify("READY=1\nSTATUS=listening") }
/// ```
///
/// A path starting with `@` names a socket in the abstract namespace, as systemd writes it.
public struct SystemdNotifier: Sendable, Equatable {
    /// The socket, as `$NOTIFY_SOCKET` gave it.
    public let socketPath: String

    /// A notifier for the socket in `$NOTIFY_SOCKET`; nil when the daemon was not started by
    /// systemd with `Type=notify` (the variable is unset or empty).
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        socketPath = path
    }

    /// A notifier for the socket in this process's `$NOTIFY_SOCKET`.
    public init?() {
        guard let value = getenv("NOTIFY_SOCKET") else { return nil }
        self.init(environment: ["NOTIFY_SOCKET": String(cString: value)])
    }

    /// Sends one message, e.g. `"READY=1\nSTATUS=ready"`.
    /// - Throws: ``SystemdNotifyError`` when the socket path is unusable or the datagram is not sent.
    public func notify(_ message: String) throws(SystemdNotifyError) {
        guard socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else {
            throw SystemdNotifyError("NOTIFY_SOCKET is neither a path nor an abstract socket name")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(socketPath.utf8)
        let abstract = name.first == UInt8(ascii: "@")
        if abstract { name[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name is its exact bytes.
        guard name.count + (abstract ? 0 : 1) <= capacity else {
            throw SystemdNotifyError("NOTIFY_SOCKET is longer than a unix socket address allows")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path.copyBytes(from: name)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + name.count + (abstract ? 0 : 1))

        #if canImport(Darwin)
        let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #else
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard descriptor >= 0 else { throw SystemdNotifyError("could not open a datagram socket", errno: errno) }
        defer { close(descriptor) }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { buffer in
                    // Never wait: a full notify queue drops this message rather than stall the caller's thread.
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), socketAddress, length)
                }
            }
        }
        guard sent == bytes.count else {
            throw SystemdNotifyError("could not send to NOTIFY_SOCKET", errno: sent < 0 ? errno : nil)
        }
    }

    /// How often systemd wants `WATCHDOG=1` (half of `WatchdogSec=`, as sd_watchdog_enabled(3)
    /// advises); nil when the watchdog is off or meant for another process (`$WATCHDOG_PID`).
    public static func watchdogInterval(environment: [String: String], pid: Int32 = getpid()) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], let ownerPID = Int32(owner), ownerPID != pid { return nil }
        return .microseconds(Int64(microseconds / 2))
    }
}

/// Why a message could not reach systemd. Never holds more than the errno's text.
public struct SystemdNotifyError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    init(_ what: String, errno code: Int32? = nil) {
        if let code, let text = strerror(code) {
            description = "\(what): \(String(cString: text))"
        } else {
            description = what
        }
    }
}
