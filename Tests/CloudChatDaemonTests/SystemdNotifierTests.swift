import Foundation
import Synchronization
import Testing
import TestSupport

@testable import CloudChatDaemon

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's notify socket.
/// Shared with the process-level service tests.
final class NotifySocket {
    let descriptor: Int32
    /// The name to put in NOTIFY_SOCKET.
    let name: String
    private let boundPath: String?

    /// Binds a socket at a path, or in the abstract namespace (`@name`).
    init(abstract: Bool, directory: TemporaryDirectory) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw SystemdNotifyError("socket", errno: errno) }
        let unique = UUID().uuidString.prefix(8)
        name = abstract ? "@cloudchat-test-\(unique)" : directory.path + "/notify-\(unique)"
        boundPath = abstract ? nil : name
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw SystemdNotifyError("bind", errno: errno) }
        // Never block a test forever: a missing datagram fails after a few seconds.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram's text, or nil after the receive timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// Datagrams until one contains `text` (nil after `seconds`), without blocking a thread.
    func awaitMessage(containing text: String, seconds: Double = 20) async -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                let message = String(decoding: buffer.prefix(count), as: UTF8.self)
                if message.contains(text) { return message }
                continue
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    deinit {
        close(descriptor)
        if let boundPath { unlink(boundPath) }
    }
}

@Suite struct SystemdNotifierTests {
    @Test(arguments: [false, true]) func sendsOneDatagramToTheNotifySocket(abstract: Bool) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let listener = try NotifySocket(abstract: abstract, directory: directory)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name]))
        try notifier.notify("READY=1\nSTATUS=listening")
        #expect(listener.receive() == "READY=1\nSTATUS=listening")
        try notifier.notify("WATCHDOG=1")
        #expect(listener.receive() == "WATCHDOG=1")
    }

    @Test func withoutNotifySocketThereIsNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
    }

    @Test func unusableSocketsAreErrorsThatSayWhy() throws {
        let relative = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]))
        #expect(throws: SystemdNotifyError.self) { try relative.notify("READY=1") }
        let tooLong = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)]))
        let error = try #require(throws: SystemdNotifyError.self) { try tooLong.notify("READY=1") }
        #expect(error.description.contains("longer"))
        let nobodyListens = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent-cloudchat-notify"]))
        let refused = try #require(throws: SystemdNotifyError.self) { try nobodyListens.notify("READY=1") }
        #expect(refused.description.contains("No such file"))
    }

    @Test func watchdogIntervalIsHalfOfWatchdogSecForThisProcess() {
        let pid = getpid()
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"], pid: pid) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid)"], pid: pid) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid + 1)"], pid: pid) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"], pid: pid) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "soon"], pid: pid) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:], pid: pid) == nil)
    }

    @Test(.timeLimit(.minutes(1))) func theDaemonIsReadyOnceListeningWatchedWhileRunningAndSaysWhenItStops() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let systemd = try NotifySocket(abstract: true, directory: directory)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": systemd.name]))
        try await RunningDaemon.with(systemd: notifier, watchdogInterval: .milliseconds(100)) { (daemon: RunningDaemon) async throws in
            let ready = try #require(await systemd.awaitMessage(containing: "READY=1"), "no READY=1 once the listeners were up")
            #expect(ready.contains("STATUS=webhooks "))
            // A webhook's listener answers by the time READY=1 is sent.
            #expect(try await daemon.request("GET", "/healthz").0 == 200)
            let watchdog = try #require(await systemd.awaitMessage(containing: "WATCHDOG=1"), "no WATCHDOG=1 while running")
            #expect(watchdog.contains("STATUS="))
        }
        #expect(await systemd.awaitMessage(containing: "STOPPING=1") != nil, "no STOPPING=1 at the shutdown")
    }

    @Test func statusLineShowsRatesSinceTheLastLine() {
        let counts = Mutex(DaemonStatusLine.Counts())
        let line = DaemonStatusLine { counts.withLock { $0 } }
        counts.withLock { $0 = .init(accepted: 0, processed: 0, sent: 0, spoolBatches: 3, lagSeconds: 1.25) }
        let text = line.line()
        #expect(text.contains("webhooks 0.0/s in"))
        #expect(text.contains("spool 3 batches"))
        #expect(text.contains("lag 1.3 s") || text.contains("lag 1.2 s"))
    }
}
