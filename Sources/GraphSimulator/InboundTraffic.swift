import Logging
import NIOCore
import Synchronization

/// Realistic inbound text messages at a steady rate, for demos and load: a pool of
/// customers with names and numbers, writing short messages a shop receives.
///
/// A repeated task on an event loop posts them; a tick comes every 1/rate seconds,
/// or every 10 ms with several messages per tick at higher rates.
final class InboundTraffic: Sendable {
    private let task: RepeatedTask

    init(core: SimulatorCore, eventLoop: any EventLoop, messagesPerSecond: Double, customers: Int, logger: Logger) {
        let period = max(0.01, 1 / messagesPerSecond)
        let perTick = messagesPerSecond * period
        let numbers = core.configuration.numbers.map(\.phoneNumberID)
        let credit = Mutex(0.0)
        let failures = Atomic<Int>(0)
        task = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .nanoseconds(Int64(period * 1e9))) { _ in
            let count = credit.withLock { credit -> Int in
                credit += perTick
                let whole = Int(credit)
                credit -= Double(whole)
                return whole
            }
            for _ in 0..<count {
                let message = core.withRandom { random -> GraphSimulator.CustomerMessage in
                    let customer = Int.random(in: 0..<customers, using: &random)
                    return GraphSimulator.CustomerMessage(
                        from: Self.customerNumber(customer), profileName: Self.customerName(customer),
                        content: .text(Self.texts.randomElement(using: &random)!),
                        phoneNumberID: numbers.isEmpty ? nil : numbers[Int.random(in: 0..<numbers.count, using: &random)])
                }
                do {
                    _ = try core.postInbound(message)
                } catch {
                    // Logged once: the same cause would repeat every tick.
                    if failures.add(1, ordering: .relaxed).newValue == 1 {
                        logger.warning("inbound traffic could not post", metadata: ["reason": "\(error)"])
                    }
                }
            }
        }
    }

    func stop() {
        task.cancel()
    }

    /// Customer n's number: a US 555 number, the same for the same n.
    static func customerNumber(_ index: Int) -> String {
        let local = String(1_000_000 + (index * 7919) % 9_000_000)
        return "1555" + local
    }

    /// Customer n's profile name.
    static func customerName(_ index: Int) -> String {
        let first = firstNames[index % firstNames.count]
        let last = lastNames[(index / firstNames.count) % lastNames.count]
        return "\(first) \(last)"
    }

    private static let firstNames = [
        "Ana", "Ben", "Chloé", "Dmitri", "Esra", "Femi", "Grace", "Hiro", "Inés", "Jonas", "Kavya", "Liam", "Mei", "Nadia",
        "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
    ]

    private static let lastNames = [
        "Almeida", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen",
    ]

    static let texts = [
        "Hi! Is my order on its way?", "Hello, do you ship to Canada?", "What time do you open tomorrow?",
        "Can I change the size on my order?", "Thanks, got it 👍", "Is the blue one still in stock?",
        "I'd like to return an item, how does that work?", "My parcel says delivered but I can't find it",
        "Do you have a discount code for first orders?", "Can I pick up in store?", "How long does delivery take?",
        "The link in your message doesn't open", "Yes please!", "Stop", "Perfect, thank you so much",
        "Could you send me the invoice again?", "Is there a warranty on this?", "Can I pay on delivery?",
        "Ok, I'll wait for the tracking number", "Good morning, I have a question about my order",
    ]
}
