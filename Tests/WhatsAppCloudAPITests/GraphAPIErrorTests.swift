import Testing
@testable import WhatsAppCloudAPI

@Suite("Graph API errors")
struct GraphAPIErrorTests {
    @Test func readsMetasErrorBodyAndLogsItWithoutTheDetails() {
        let body = #"""
            {"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException","code":131026,
              "error_data":{"messaging_product":"whatsapp","details":"Recipient +16505551234 cannot be reached"},
              "error_subcode":2494010,"fbtrace_id":"Az8KqHk1Ab"}}
            """#
        let error = GraphAPIError(httpStatus: 400, body: Array(body.utf8))
        #expect(error == GraphAPIError(httpStatus: 400, code: 131026, subcode: 2494010, type: "OAuthException",
                                       message: "(#131026) Message Undeliverable.",
                                       details: "Recipient +16505551234 cannot be reached", fbtraceID: "Az8KqHk1Ab"))
        #expect(error.action == .failMessage)
        #expect(error.description == "Graph API error 131026 (HTTP 400): (#131026) Message Undeliverable.; fbtrace_id Az8KqHk1Ab")
        #expect(!error.description.contains("16505551234"))
    }

    @Test func anAnswerThatIsNotAGraphErrorIsJudgedByItsStatus() {
        let proxyPage = GraphAPIError(httpStatus: 502, body: Array("<html>Bad Gateway</html>".utf8))
        #expect(proxyPage.code == nil && proxyPage.action == .retryWithBackoff(attempts: 5))
        #expect(proxyPage.description == "Graph API error (HTTP 502)")
        #expect(GraphAPIError(httpStatus: 401, body: []).action == .halt(.sender))
        #expect(GraphAPIError(httpStatus: 429, body: Array("{}".utf8)).action == .retryLater(.app))
        #expect(GraphAPIError(httpStatus: 400, body: Array(#"{"error":{"code":"x"}}"#.utf8)).action == .failMessage)
    }

    @Test(arguments: [
        // Rate limits slow down only what they name.
        (130429, 400, GraphErrorAction.retryLater(.throughput)),
        (131056, 400, .retryLater(.recipient)),
        (4, 400, .retryLater(.app)),
        (80007, 400, .retryLater(.businessAccount)),
        // Credentials, permissions and account standing stop the sender.
        (0, 401, .halt(.sender)),
        (190, 401, .halt(.sender)),
        (250, 403, .halt(.sender)),
        (131042, 400, .halt(.sender)),
        (133010, 400, .halt(.sender)),
        // A paused or disabled template stops that template's campaigns only.
        (132015, 400, .halt(.template)),
        (132016, 400, .halt(.template)),
        // About this message: no retry.
        (131047, 400, .failMessage),
        (131050, 400, .failMessage),
        (132001, 404, .failMessage),
        (134101, 400, .failMessage),
        // Passing failures on Meta's side.
        (1, 400, .retryWithBackoff(attempts: 1)),
        (131000, 500, .retryWithBackoff(attempts: 3)),
        (133004, 503, .retryWithBackoff(attempts: 5)),
        // Codes this build does not know.
        (999_999, 500, .retryWithBackoff(attempts: 3)),
        (999_999, 400, .failMessage),
    ])
    func classifiesByCode(_ code: Int, _ status: Int, _ expected: GraphErrorAction) {
        #expect(GraphErrorAction.for(code: code, httpStatus: status) == expected)
    }
}
