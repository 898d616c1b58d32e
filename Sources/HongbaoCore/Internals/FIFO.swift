/// A first-in first-out queue over an array: amortised O(1) append and removal from the front.
struct FIFO<Element> {
    private var storage: [Element] = []
    private var head = 0

    /// A queue of `elements`, the first at the front.
    init(_ elements: [Element] = []) { storage = elements }

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }
    var first: Element? { isEmpty ? nil : storage[head] }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = storage[head]
        head += 1
        if head >= 1024 && head * 2 >= storage.count {   // drop the consumed front, amortised over its length
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
