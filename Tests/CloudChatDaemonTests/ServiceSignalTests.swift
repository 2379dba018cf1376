import Foundation
import Testing
import TestSupport

@testable import CloudChatDaemon

#if canImport(Glibc)
import Glibc
#endif

/// The real `cloudchatd serve` process as systemd runs it: notify socket, watchdog, SIGHUP and SIGTERM.
@Suite("cloudchatd under systemd", .serialized, .timeLimit(.minutes(2)))
struct ServiceSignalTests {
    @Test func readyWatchdogReloadAndStopAreToldToSystemd() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("sg")
        defer { scratch.drop() }
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let config = try directory.write("cloudchatd.conf", "log_level = info\n")
        let systemd = try NotifySocket(abstract: true, directory: directory)
        let serve = try ServeProcess(["--config", config, "--wordpress", directory.path + "/site"], environment: [
            "NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": "400000",
            "CLOUDCHAT_HTTP_LISTEN": "127.0.0.1:0", "CLOUDCHAT_CONTROL_LISTEN": "127.0.0.1:0",
            "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool", "CLOUDCHAT_SECRETS_KEY_FILE": directory.path + "/no-key",
        ])
        let pid = serve.process.processIdentifier

        let ready = try #require(await systemd.awaitMessage(containing: "READY=1"), "no READY=1: \(serve.logText)")
        #expect(ready.contains("STATUS=webhooks "))
        #expect(serve.logText.contains("cloudchatd ready"), "READY=1 comes once the listeners are up")
        #expect(await systemd.awaitMessage(containing: "WATCHDOG=1") != nil, "no WATCHDOG=1 with WATCHDOG_USEC set")

        // systemctl reload: the log level the file now names, said to systemd around it.
        // A record's own level, not the reload's note of the new one (log_level=debug).
        #expect(!serve.logText.contains(" level=debug "))
        try "log_level = debug\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        #expect(await systemd.awaitMessage(containing: "RELOADING=1") != nil, "no RELOADING=1 on SIGHUP")
        #expect(await systemd.awaitMessage(containing: "READY=1") != nil, "no READY=1 after the reload")
        try await waitUntil("debug records after the reload") { serve.logText.contains(" level=debug ") }
        #expect(serve.process.isRunning, "SIGHUP does not stop the daemon")

        // systemctl stop: STOPPING=1, the writer flushed, a clean exit.
        kill(pid, SIGTERM)
        #expect(await systemd.awaitMessage(containing: "STOPPING=1") != nil, "no STOPPING=1 on SIGTERM")
        try await waitUntil("the daemon exits after SIGTERM", timeout: .seconds(20)) { !serve.process.isRunning }
        #expect(serve.process.terminationStatus == 0, "\(serve.logText.suffix(2000))")
        #expect(serve.logText.contains("webhook writer stopped"))
        #expect(serve.logText.contains("database pool closed"))
    }
}
