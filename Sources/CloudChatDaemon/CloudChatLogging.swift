import Logging
import Synchronization

/// Sets up logging for a `cloudchatd` process: every `Logger` gets a
/// ``CloudChatLogHandler`` writing to standard error in the configured format,
/// following one shared, changeable level.
///
/// ```swift
/// CloudChatLogging.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
/// // Later, e.g. on SIGHUP after reading the configuration again:
/// CloudChatLogging.levelControl.set(reloaded.logLevel)
/// ```
public enum CloudChatLogging {
    /// The level every handler made by ``bootstrap(format:level:output:)`` follows.
    /// Set it to change the level of the running process at once.
    public static let levelControl = LogLevelControl(.info)

    private static let bootstrapped = Atomic<Bool>(false)

    /// Installs the handler for the whole process and sets ``levelControl`` to `level`.
    ///
    /// swift-log takes one bootstrap per process: a later call only sets the level,
    /// and the first call's format and output stay.
    /// - Parameters:
    ///   - format: how records are written.
    ///   - level: the level to start at.
    ///   - output: where lines go; standard error by default.
    public static func bootstrap(format: LogFormat, level: Logger.Level, output: LogOutput = .standardError) {
        levelControl.set(level)
        guard !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { label in
            CloudChatLogHandler(label: label, format: format, levelControl: levelControl, output: output)
        }
    }
}
