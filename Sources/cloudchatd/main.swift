import ArgumentParser
import NIOCore
import NIOPosix

// Run Swift concurrency's jobs on SwiftNIO's event loops, so a request handled
// in async code does not hop between the event loop and a separate pool of
// threads twice per request. This must happen first, on the main thread.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// Runs a command through its asynchronous entry point (top-level code would pick the synchronous one).
func runAsync<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main()
}

await runAsync(CloudChatCommand.self)
