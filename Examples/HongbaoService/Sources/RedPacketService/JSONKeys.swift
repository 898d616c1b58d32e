import Foundation

/// The keys of a JSON body, read before it is decoded. Foundation's decoder takes one of two equal keys silently
/// and ignores keys it does not know, so a body could say one thing to a proxy or a log and another to the
/// service, and a misspelt field (`"knd": "equal"`) would send a lucky packet. The service refuses both (400).
struct JSONKeys {
    /// The first key that appears twice in one object (escapes decoded, so `"\u0061"` and `"a"` are the same key).
    var duplicate: String?
    /// The keys of the top-level object, in order (empty when the body is not an object).
    var topLevel: [String] = []

    /// Scans `json` once, O(n). Malformed JSON is left to the decoder.
    init(scanning json: some Collection<UInt8>) {
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
                guard end < bytes.count else { return }
                var next = end + 1
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: ":"), let last = objects.last, var keys = last {
                    let raw = bytes[index ... end]
                    let key = escaped ? (try? JSONDecoder().decode(String.self, from: Data(raw))) ?? String(decoding: raw, as: UTF8.self)
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if objects.count == 1 { topLevel.append(key) }
                    guard keys.insert(key).inserted else { duplicate = key; return }
                    objects[objects.count - 1] = keys
                }
                index = end
            default: break
            }
            index += 1
        }
    }
}
