import Foundation

/// JSON objects that name a key twice: Foundation's decoder takes one of them silently, so a body could say one
/// thing to a proxy or a log and another to the service. The service refuses them (400) before decoding.
enum DuplicateKeys {
    /// The first key that appears twice in one object of `json` (escapes decoded, so `"\u0061"` and `"a"` are the
    /// same key), or nil. Malformed JSON is left to the decoder. O(n).
    static func first(in json: some Collection<UInt8>) -> String? {
        let bytes = Array(json)
        var objects: [Set<String>?] = []   // one entry per open container: the keys seen, or nil for an array
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"): objects.append([])
            case UInt8(ascii: "["): objects.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !objects.isEmpty { objects.removeLast() }
            case UInt8(ascii: "\""):
                var end = index + 1, escaped = false
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    if bytes[end] == UInt8(ascii: "\\") { escaped = true; end += 1 }
                    end += 1
                }
                guard end < bytes.count else { return nil }
                var next = end + 1
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: ":"), let last = objects.last, var keys = last {
                    let raw = bytes[index ... end]
                    let key = escaped ? (try? JSONDecoder().decode(String.self, from: Data(raw))) ?? String(decoding: raw, as: UTF8.self)
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    guard keys.insert(key).inserted else { return key }
                    objects[objects.count - 1] = keys
                }
                index = end
            default: break
            }
            index += 1
        }
        return nil
    }
}
