/// A seeded pseudo-random generator (SplitMix64): the same seed gives the same
/// sequence of injected errors and status timings for the same sequence of requests.
///
/// Not for secrets: media URL hashes and the like come from ``SecureRandom``.
struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// True with probability `probability`: never for 0 or less, always for 1 or more.
    mutating func chance(_ probability: Double) -> Bool {
        if probability <= 0 { return false }
        if probability >= 1 { return true }
        return Double.random(in: 0..<1, using: &self) < probability
    }

    /// A duration picked evenly between two bounds.
    mutating func duration(between lower: Duration, and upper: Duration) -> Duration {
        guard upper > lower else { return lower }
        let span = (upper - lower) / .nanoseconds(1)
        return lower + .nanoseconds(Int64(Double.random(in: 0...span, using: &self)))
    }
}
