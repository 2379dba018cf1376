import ArgumentParser

/// Where the configuration comes from, and which site (blog) of a multisite network a command works on.
struct SiteOptions: ParsableArguments {
    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("blog-id"), help: ArgumentHelp("The site (blog) of a multisite network.", valueName: "id"))
    var blogID: Int = 1
}
