/// The version of this CloudChat build.
public enum CloudChatVersion {
    /// The release version.
    public static let current = "0.1.0"
}
