import Testing
import WhatsAppCloudAPI

@Suite("libcurl runtime")
struct CurlRuntimeTests {
    @Test("Reports the linked libcurl with TLS, as the Graph API needs")
    func reportsLinkedLibrary() {
        let runtime = CurlRuntime.current()
        let components = runtime.version.split(separator: ".")
        #expect(components.count >= 2 && components.allSatisfy { Int($0) != nil }, "version \(runtime.version)")
        #expect(runtime.supportsTLS)
        #expect(runtime.supportsHTTPS)
        #expect(runtime.tlsBackend?.isEmpty == false)
        #expect(runtime.protocols.contains("https"))
        #expect(runtime.description.hasPrefix("libcurl \(runtime.version)"))
        // HTTP/2 depends on how libcurl was built, so doctor warns rather than fails;
        // here it only has to be reported consistently.
        #expect(runtime.description.contains("HTTP/2 \(runtime.supportsHTTP2 ? "yes" : "no")"))
    }

    @Test("Global initialisation is safe to call concurrently and repeatedly")
    func initializeOnce() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { try CurlRuntime.initializeOnce() }
            }
            try await group.waitForAll()
        }
        try CurlRuntime.initializeOnce()
    }

    @Test("The summary flags missing features")
    func describesMissingFeatures() {
        let limited = CurlRuntime(
            version: "7.50.0", tlsBackend: nil, supportsHTTP2: false,
            supportsTLS: false, supportsAsynchDNS: false, protocols: ["http"]
        )
        #expect(limited.description == "libcurl 7.50.0, HTTP/2 no, TLS no, async DNS no")
        #expect(!limited.supportsHTTPS)
    }
}
