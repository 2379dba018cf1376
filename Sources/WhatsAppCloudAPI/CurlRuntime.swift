internal import CCurl

/// What the libcurl linked into the daemon can do, as reported by
/// `curl_version_info`.
///
/// The Graph API is reached over HTTPS, so a libcurl without TLS cannot work
/// at all, and one without HTTP/2 works but opens more connections.
public struct CurlRuntime: Sendable, Equatable, CustomStringConvertible {
    /// The libcurl version, for example `7.88.1`.
    public let version: String
    /// The TLS backend and its version, for example `OpenSSL/3.0.15`, or `nil` without TLS.
    public let tlsBackend: String?
    /// Whether libcurl was built with HTTP/2 (the `CURL_VERSION_HTTP2` feature).
    public let supportsHTTP2: Bool
    /// Whether libcurl was built with TLS (the `CURL_VERSION_SSL` feature).
    public let supportsTLS: Bool
    /// Whether name resolution runs without blocking the transfer (the `CURL_VERSION_ASYNCHDNS` feature).
    public let supportsAsynchDNS: Bool
    /// The URL schemes libcurl supports, such as `https`.
    public let protocols: [String]

    /// Creates a description of a libcurl build; useful for testing reports about one.
    ///
    /// - Parameters:
    ///   - version: The libcurl version.
    ///   - tlsBackend: The TLS backend name and version, or `nil`.
    ///   - supportsHTTP2: Whether HTTP/2 is built in.
    ///   - supportsTLS: Whether TLS is built in.
    ///   - supportsAsynchDNS: Whether asynchronous name resolution is built in.
    ///   - protocols: The supported URL schemes.
    public init(
        version: String,
        tlsBackend: String?,
        supportsHTTP2: Bool,
        supportsTLS: Bool,
        supportsAsynchDNS: Bool,
        protocols: [String]
    ) {
        self.version = version
        self.tlsBackend = tlsBackend
        self.supportsHTTP2 = supportsHTTP2
        self.supportsTLS = supportsTLS
        self.supportsAsynchDNS = supportsAsynchDNS
        self.protocols = protocols
    }

    /// Reads the capabilities of the libcurl loaded at run time, which may
    /// differ from the headers the daemon was built against.
    ///
    /// - Returns: The running libcurl's version and features.
    public static func current() -> CurlRuntime {
        // libcurl returns a pointer to its own static data, never freed.
        guard let info = cloudchat_curl_version_info()?.pointee else {
            return CurlRuntime(
                version: "unknown", tlsBackend: nil, supportsHTTP2: false,
                supportsTLS: false, supportsAsynchDNS: false, protocols: []
            )
        }
        let features = info.features
        var protocols: [String] = []
        if var entry = info.protocols {
            // A null-terminated array of C strings.
            while let name = entry.pointee {
                protocols.append(String(cString: name))
                entry += 1
            }
        }
        return CurlRuntime(
            version: info.version.map { String(cString: $0) } ?? "unknown",
            tlsBackend: info.ssl_version.map { String(cString: $0) },
            supportsHTTP2: features & CURL_VERSION_HTTP2 != 0,
            supportsTLS: features & CURL_VERSION_SSL != 0,
            supportsAsynchDNS: features & CURL_VERSION_ASYNCHDNS != 0,
            protocols: protocols
        )
    }

    /// Whether libcurl can fetch `https` URLs, which the Graph API requires.
    public var supportsHTTPS: Bool { supportsTLS && protocols.contains("https") }

    /// A one-line summary, for example
    /// `libcurl 7.88.1 (OpenSSL/3.0.15), HTTP/2 yes, TLS yes, async DNS yes`.
    public var description: String {
        let backend = tlsBackend.map { " (\($0))" } ?? ""
        func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }
        return "libcurl \(version)\(backend), HTTP/2 \(yesNo(supportsHTTP2)), "
            + "TLS \(yesNo(supportsTLS)), async DNS \(yesNo(supportsAsynchDNS))"
    }

    /// Why `curl_global_init` failed.
    public struct InitializationError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The `CURLcode` returned by `curl_global_init`.
        public let code: Int
        /// libcurl's explanation of the code.
        public let description: String
    }

    /// The result of the single `curl_global_init` call. Swift runs a global's
    /// initialiser exactly once, under a lock, however many threads race to it;
    /// libcurl itself forbids concurrent global initialisation.
    private static let initialization: InitializationError? = {
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard code != CURLE_OK else { return nil }
        return InitializationError(
            code: Int(code.rawValue),
            description: "curl_global_init failed: " + String(cString: curl_easy_strerror(code))
        )
    }()

    /// Initialises libcurl's global state (`curl_global_init(Int(CURL_GLOBAL_DEFAULT))`)
    /// the first time it is called; later calls only report that first outcome.
    ///
    /// Call it before creating any curl handle. It is safe to call from any
    /// thread, any number of times.
    ///
    /// - Throws: ``InitializationError`` if libcurl could not initialise.
    public static func initializeOnce() throws {
        if let failure = initialization { throw failure }
    }
}
