/// A binary min-heap: the webhook timeline, ordered by due time.
struct MinimumHeap<Element: Comparable>: Sendable where Element: Sendable {
    private var storage: [Element] = []

    var isEmpty: Bool { storage.isEmpty }
    var count: Int { storage.count }
    /// The smallest element.
    var minimum: Element? { storage.first }

    mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element.
    mutating func removeMinimum() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let smallest = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallestIndex = parent
            if left < storage.count, storage[left] < storage[smallestIndex] { smallestIndex = left }
            if right < storage.count, storage[right] < storage[smallestIndex] { smallestIndex = right }
            guard smallestIndex != parent else { break }
            storage.swapAt(parent, smallestIndex)
            parent = smallestIndex
        }
        return smallest
    }

    mutating func removeAll() {
        storage.removeAll()
    }
}
