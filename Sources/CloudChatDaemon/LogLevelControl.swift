import Logging
import Synchronization

/// The log level in force, changeable while the daemon runs.
///
/// Every ``CloudChatLogHandler`` holds one and reads it on each log call, so
/// `set(_:)` takes effect at once for every logger: those made before the
/// change and those made after. A handler whose own `logLevel` was assigned
/// keeps that level instead (swift-log's rule that a level set on one logger
/// stays with that logger).
///
/// The daemon's control is ``CloudChatLogging/levelControl``; to follow a
/// configuration file that was read again:
///
/// ```swift
/// let configuration = try loader.load()
/// CloudChatLogging.levelControl.set(configuration.logLevel)
/// ```
public final class LogLevelControl: Sendable {
    private let current: Atomic<UInt8>

    /// A control starting at `level`.
    /// - Parameter level: the level until ``set(_:)`` changes it.
    public init(_ level: Logger.Level = .info) {
        current = Atomic(Self.code(level))
    }

    /// The level in force: records below it are dropped.
    public var level: Logger.Level {
        Self.levels[Int(current.load(ordering: .relaxed))]
    }

    /// Changes the level for every handler that follows this control. Safe from any thread.
    /// - Parameter level: the new level; records below it are dropped from the next log call on.
    public func set(_ level: Logger.Level) {
        current.store(Self.code(level), ordering: .relaxed)
    }

    private static let levels = Logger.Level.allCases

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(levels.firstIndex(of: level)!)
    }
}
