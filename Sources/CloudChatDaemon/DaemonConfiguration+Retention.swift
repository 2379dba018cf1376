import Privacy

extension DaemonConfiguration {
    /// The daemon's retention defaults: the `retention_*_days` settings over the built-in defaults.
    /// Each site's `cloudchat_retention` option is laid over these (``RetentionPolicy/read(_:defaults:on:)``).
    public var retention: RetentionPolicy {
        var policy = RetentionPolicy()
        for retentionClass in RetentionClass.allCases {
            let key = "retention_" + retentionClass.optionKey
            if let days = retentionDays[key] {
                policy[retentionClass] = days
                policy.origins[retentionClass] = "configuration"
            }
        }
        return policy
    }
}

extension ConfigurationKey {
    /// The retention class a `retention_*_days` key sets, if it is one.
    var retentionClass: RetentionClass? {
        RetentionClass.allCases.first { "retention_" + $0.optionKey == rawValue }
    }

    /// The summary of a `retention_*_days` key.
    var retentionSummary: String {
        guard let retentionClass else { return "" }
        return "default retention of \(retentionClass.summary): 0 keeps forever, 1 to \(RetentionPolicy.maximumDays) "
            + "(default \(retentionClass.defaultDays)); a site's own setting in wp-admin wins"
    }
}
