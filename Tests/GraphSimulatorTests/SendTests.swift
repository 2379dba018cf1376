import Foundation
import GraphSimulator
import Testing
import WhatsAppCloudAPI

/// Sends through the project's real GraphClient over HTTP.
@Suite("Sending to the simulator", .timeLimit(.minutes(1)))
struct SendTests {
    private let from = SimulatorHarness.number.phoneNumberID

    @Test func anAcceptedTextSendGetsAWamidAndIsCounted() async throws {
        try await SimulatorHarness.run { harness in
            let first = try await harness.client.send(OutboundMessage(to: "+16505551234", .text("Your order shipped"), callbackData: "cc1:o:42"),
                                                      from: from)
            let second = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Tracking: 1Z999")), from: from)
            #expect(first.status == "accepted")
            #expect(first.waID == "16505551234")
            #expect(first.wamid != second.wamid)
            // wamid.<base64 of a record naming the recipient>, like Meta's.
            #expect(first.wamid.hasPrefix("wamid.HBgL"))
            let record = try #require(Data(base64Encoded: String(first.wamid.dropFirst("wamid.".count))))
            #expect(String(decoding: record, as: UTF8.self).contains("16505551234"))

            #expect(harness.simulator.acceptedCount(to: "16505551234") == 2)
            #expect(harness.simulator.acceptedCount(to: "+16505551234") == 2)
            #expect(harness.simulator.acceptedCount(callbackData: "cc1:o:42") == 1)
            let received = harness.simulator.received(to: "16505551234")
            #expect(received.map(\.wamid) == [first.wamid, second.wamid])
            #expect(received.map(\.type) == ["text", "text"])
            #expect(received.first?.callbackData == "cc1:o:42")
            #expect(harness.simulator.statistics().sends.accepted == 2)
        }
    }

    @Test func theAnswerHasMetasShape() async throws {
        try await SimulatorHarness.run { harness in
            let answer = try await harness.postMessage(#"{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"Hi"}}"#)
            #expect(answer.status == 200)
            let json = try answer.json
            #expect(json["messaging_product"] == .string("whatsapp"))
            #expect(json["contacts"] == .array([.object(["input": .string("+16505551234"), "wa_id": .string("16505551234")])]))
            guard case .array(let messages)? = json["messages"] else { Issue.record("no messages"); return }
            #expect(messages.first?["message_status"] == .string("accepted"))
        }
    }

    @Test(arguments: [
        (#"{"to":"16505551234","type":"text","text":{"body":"Hi"}}"#, 131008),
        (#"{"messaging_product":"sms","to":"16505551234","type":"text","text":{"body":"Hi"}}"#, 131009),
        (#"{"messaging_product":"whatsapp","to":"not-a-number","type":"text","text":{"body":"Hi"}}"#, 131009),
        (#"{"messaging_product":"whatsapp","to":"16505551234","type":"hologram","hologram":{}}"#, 131009),
        (#"{"messaging_product":"whatsapp","to":"16505551234","type":"text"}"#, 131008),
        (#"{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"\#(String(repeating: "x", count: 4097))"}}"#, 100),
        (#"{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"}}}"#, 131008),
        (#"{"messaging_product":"whatsapp","to":"16505551234","type":"reaction","reaction":{"emoji":"👍"}}"#, 131008),
        (#"not json"#, 100),
    ])
    func malformedSendsGetMetasCodes(body: String, code: Int) async throws {
        try await SimulatorHarness.run { harness in
            let answer = try await harness.postMessage(body)
            let error = answer.graphError
            #expect(error.code == code)
            #expect(error.httpStatus == 400)
            #expect(error.type == "OAuthException")
            #expect(error.details?.isEmpty == false)
            #expect(error.fbtraceID?.isEmpty == false)
            #expect(error.action == .failMessage)
            #expect(harness.simulator.statistics().sends.invalid == 1)
            #expect(harness.simulator.statistics().sends.accepted == 0)
        }
    }

    @Test func templatesMustExistBeApprovedAndGetTheirParameters() async throws {
        try await SimulatorHarness.run { harness in
            func send(_ template: OutboundMessage.Template) async throws -> GraphAPIError? {
                do {
                    _ = try await harness.client.send(OutboundMessage(to: "16505551234", .template(template)), from: from)
                    return nil
                } catch let error as GraphAPIError {
                    return error
                }
            }
            #expect(try await send(.init(name: "hello_world", language: "en_US")) == nil)
            #expect(try await send(.init(name: "order_update", language: "en_US", body: [.text("Ana"), .text("#1042")])) == nil)
            #expect(try await send(.init(name: "spring_sale", language: "en_US",
                                         body: [.text("Ana", name: "first_name"), .text("20%", name: "discount")])) == nil)
            #expect(try await send(.init(name: "new_arrivals", language: "en_US", header: [.media(.image, .id("1234"))], body: [.text("Ana")])) == nil)

            let missing = try #require(try await send(.init(name: "no_such_template", language: "en_US")))
            #expect(missing.code == 132001 && missing.httpStatus == 404)
            let otherLanguage = try #require(try await send(.init(name: "hello_world", language: "pt_BR")))
            #expect(otherLanguage.code == 132001)
            let rejected = try #require(try await send(.init(name: "free_gift_offer", language: "en_US")))
            #expect(rejected.code == 132001)
            let paused = try #require(try await send(.init(name: "winter_clearance", language: "en_US", body: [.text("50%")])))
            #expect(paused.code == 132015 && paused.action == .halt(.template))
            let wrongCount = try #require(try await send(.init(name: "order_update", language: "en_US", body: [.text("Ana")])))
            #expect(wrongCount.code == 132000 && wrongCount.httpStatus == 400)
            let noHeader = try #require(try await send(.init(name: "new_arrivals", language: "en_US", body: [.text("Ana")])))
            #expect(noHeader.code == 132000)
            #expect(harness.simulator.received(to: "16505551234").compactMap(\.templateName) == ["hello_world", "order_update", "spring_sale", "new_arrivals"])
        }
    }

    @Test func aWrongOrMissingTokenGets190() async throws {
        try await SimulatorHarness.run { harness in
            let client = GraphClient(http: harness.http, baseURL: harness.simulator.baseURL, accessToken: { "EAAG-revoked" })
            await #expect(throws: GraphAPIError.self) {
                try await client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
            }
            do {
                _ = try await client.phoneNumber(from)
                Issue.record("a revoked token was accepted")
            } catch let error as GraphAPIError {
                #expect(error.code == 190 && error.httpStatus == 401 && error.action == .halt(.sender))
            }
            let bare = try await harness.send("GET", "/v23.0/\(from)", token: nil)
            #expect(bare.graphError.code == 190)
            #expect(harness.simulator.statistics().unauthorizedRequests == 3)
            #expect(harness.simulator.statistics().sends.accepted == 0)
        }
    }

    @Test func anUnknownNumberIsAnObjectThatDoesNotExist() async throws {
        try await SimulatorHarness.run { harness in
            do {
                _ = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: "999000999")
                Issue.record("an unknown number accepted a send")
            } catch let error as GraphAPIError {
                #expect(error.code == 100 && error.subcode == 33 && error.httpStatus == 400)
                #expect(error.message?.contains("Object with ID '999000999' does not exist") == true)
            }
        }
    }

    @Test func anyVersionPrefixIsAccepted() async throws {
        try await SimulatorHarness.run { harness in
            for version in ["v19.0", "v25.0", "v26.0"] {
                let client = GraphClient(http: harness.http, baseURL: harness.simulator.baseURL, apiVersion: version,
                                         accessToken: { SimulatorHarness.token })
                _ = try await client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
            }
            #expect(harness.simulator.acceptedCount(to: "16505551234") == 3)
        }
    }

    @Test func sendsOverTheThroughputGet130429AndAreNotCounted() async throws {
        try await SimulatorHarness.run(configure: {
            $0.numbers = [GraphSimulator.BusinessNumber(phoneNumberID: from, displayPhoneNumber: "15550783881",
                                                        wabaID: SimulatorHarness.number.wabaID, messagesPerSecond: 2)]
        }) { harness in
            // A full bucket holds 2; twelve sends back to back would need five seconds to fit.
            var limited: [GraphAPIError] = []
            for index in 0..<12 {
                do {
                    _ = try await harness.client.send(OutboundMessage(to: "1650555\(1000 + index)", .text("Hi")), from: from)
                } catch let error as GraphAPIError {
                    limited.append(error)
                }
            }
            #expect(!limited.isEmpty)
            #expect(limited.allSatisfy { $0.code == 130429 && $0.httpStatus == 400 && $0.action == .retryLater(.throughput) })
            let statistics = harness.simulator.statistics()
            #expect(statistics.sends.throughputLimited == limited.count)
            #expect(statistics.sends.accepted == 12 - limited.count)
            let received = (0..<12).map { harness.simulator.acceptedCount(to: "1650555\(1000 + $0)") }.reduce(0, +)
            #expect(received == statistics.sends.accepted)
        }
    }

    @Test func aRecipientOverThePairLimitGets131056() async throws {
        try await SimulatorHarness.run(configure: { $0.pairLimit = .init(interval: .seconds(60), burst: 3) }) { harness in
            var outcomes: [Int?] = []
            for _ in 0..<5 {
                do {
                    _ = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
                    outcomes.append(nil)
                } catch let error as GraphAPIError {
                    #expect(error.action == .retryLater(.recipient))
                    outcomes.append(error.code)
                }
            }
            #expect(outcomes == [nil, nil, nil, 131056, 131056])
            _ = try await harness.client.send(OutboundMessage(to: "16505559876", .text("Others are not held back")), from: from)
            #expect(harness.simulator.statistics().sends.pairLimited == 2)
            #expect(harness.simulator.acceptedCount(to: "16505551234") == 3)
        }
    }

    @Test func aSynchronousRuleAnswersWithItsError() async throws {
        try await SimulatorHarness.run(configure: {
            $0.failureRules = [.init(recipientSuffix: "9999", code: 131030, mode: .synchronous)]
        }) { harness in
            do {
                _ = try await harness.client.send(OutboundMessage(to: "16505559999", .text("Hi")), from: from)
                Issue.record("the rule did not apply")
            } catch let error as GraphAPIError {
                #expect(error.code == 131030 && error.httpStatus == 400)
            }
            _ = try await harness.client.send(OutboundMessage(to: "16505559998", .text("Hi")), from: from)
            #expect(harness.simulator.statistics().sends.injectedSynchronous == 1)
            #expect(harness.simulator.acceptedCount(to: "16505559999") == 0)
        }
    }

    @Test func transientErrorsAre500Or503AndNotCounted() async throws {
        try await SimulatorHarness.run(configure: { $0.transientErrorRate = 1 }) { harness in
            var codes: [Int] = []
            for index in 0..<8 {
                do {
                    _ = try await harness.client.send(OutboundMessage(to: "1650555\(2000 + index)", .text("Hi")), from: from)
                } catch let error as GraphAPIError {
                    #expect((error.code == 131000 && error.httpStatus == 500) || (error.code == 2 && error.httpStatus == 503))
                    if case .retryWithBackoff = error.action {} else { Issue.record("\(error) is not retried") }
                    codes.append(error.code ?? 0)
                }
            }
            #expect(codes.count == 8)
            #expect(harness.simulator.statistics().sends.transient == 8)
            #expect(harness.simulator.statistics().sends.accepted == 0)
        }
    }

    @Test func markingReadAnswersSuccessAndSendsNothing() async throws {
        try await SimulatorHarness.run { harness in
            try await harness.client.markRead("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTJDOUI3OEJERjNCRjY3RjYxNwA=", from: from, showTyping: true)
            #expect(harness.simulator.statistics().sends.markedRead == 1)
            #expect(harness.simulator.statistics().sends.accepted == 0)
        }
    }

    @Test func answersHeldBackByALatencyAllArrive() async throws {
        try await SimulatorHarness.run(configure: { $0.latency = .between(.milliseconds(20), .milliseconds(60)) }) { harness in
            let client = harness.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<16 {
                    group.addTask { _ = try await client.send(OutboundMessage(to: "1650555\(3000 + index)", .text("Hi")), from: from) }
                }
                try await group.waitForAll()
            }
            #expect(harness.simulator.statistics().sends.accepted == 16)
        }
    }
}
