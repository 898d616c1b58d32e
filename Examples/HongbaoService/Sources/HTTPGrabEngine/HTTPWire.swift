import NIOCore
import NIOHTTP1

/// One HTTP request as the engine makes it: method, path, a bearer token, other headers, and an optional JSON body.
/// Every part is the engine's own (numbers, tokens it signed, validated keys), so it is written as it is.
struct HTTPCall: Sendable {
    var method: HTTPMethod
    var path: String
    var bearer: String?
    var headers: [(String, String)] = []
    var json: String?

    /// The request's bytes on the wire (HTTP/1.1, keep-alive), appended to `buffer`.
    func write(host: String, into buffer: inout ByteBuffer) {
        buffer.writeString(method.rawValue)
        buffer.writeStaticString(" ")
        buffer.writeString(path)
        buffer.writeStaticString(" HTTP/1.1\r\nhost: ")
        buffer.writeString(host)
        if let bearer {
            assert(!bearer.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }), "a token is base64url and dots")
            buffer.writeStaticString("\r\nauthorization: Bearer ")
            buffer.writeString(bearer)
        }
        for (name, value) in headers {
            assert(!(name + value).utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }), "header lines are the engine's own")
            buffer.writeStaticString("\r\n")
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
        }
        if let json {
            buffer.writeStaticString("\r\ncontent-type: application/json\r\ncontent-length: ")
            buffer.writeString(String(json.utf8.count))
            buffer.writeStaticString("\r\n\r\n")
            buffer.writeString(json)
        } else {
            buffer.writeStaticString(method == .POST ? "\r\ncontent-length: 0\r\n\r\n" : "\r\n\r\n")
        }
    }
}

/// An answer: its status and its whole body.
struct HTTPAnswer: Sendable {
    let status: HTTPResponseStatus
    let body: ByteBuffer
}

/// A malformed or oversized answer: the connection it came on cannot be trusted for another.
struct HTTPAnswerError: Error, CustomStringConvertible {
    let description: String
}

/// Reads HTTP/1.1 answers off a connection's bytes, one at a time, in order: the status line, the headers (only
/// `Content-Length` and `Transfer-Encoding` matter here) and the body, framed by its length or chunked. (A service
/// that answers `Connection: close` then closes: the calls still waiting on the connection fail.)
/// What the peer sends is untrusted: a head past `maxHead` bytes, a body past `maxBody`, a length that is not a
/// decimal number, both framings at once, an interim (1xx) answer the client never asked for, or a body framed by the
/// connection's close (useless on a kept-alive connection) is an error, never a guess.
///
/// Written by hand rather than with NIOHTTP1's decoder: it is a tenth of the client's work per grab (measured in
/// Benchmarks/README.md, "bench-http keeps up"), and the answers it must read are this small subset of HTTP.
struct HTTPAnswerReader {
    static let maxHead = 64 * 1024
    static let maxBody = 64 * 1024 * 1024
    static let maxChunks = 65_536

    /// Reads one whole answer from the front of `buffer`, moving its reader index past it; nil, and `buffer`
    /// untouched, when the answer is not all there yet. - Throws: `HTTPAnswerError`.
    static func read(from buffer: inout ByteBuffer) throws -> HTTPAnswer? {
        guard let head = try parseHead(buffer) else { return nil }
        let bodyStart = buffer.readerIndex + head.length
        let body: ByteBuffer, end: Int
        switch head.framing {
        case .none:
            (body, end) = (ByteBuffer(), bodyStart)
        case .length(let length):
            guard buffer.writerIndex - bodyStart >= length else { return nil }
            (body, end) = (buffer.getSlice(at: bodyStart, length: length)!, bodyStart + length)   // in bounds: checked above
        case .chunked:
            guard let (chunks, after) = try readChunks(buffer, from: bodyStart) else { return nil }
            (body, end) = (chunks, after)
        }
        buffer.moveReaderIndex(to: end)
        return HTTPAnswer(status: HTTPResponseStatus(statusCode: head.status), body: body)
    }

    private enum Framing { case none, length(Int), chunked }

    /// The status, the head's length (through its blank line) and how the body is framed; nil if the head is not
    /// all there yet.
    private static func parseHead(_ buffer: ByteBuffer) throws -> (status: Int, length: Int, framing: Framing)? {
        let bytes = buffer.readableBytesView
        guard let length = headLength(bytes) else {
            if bytes.count > maxHead { throw HTTPAnswerError(description: "an answer's head is longer than \(maxHead) bytes") }
            return nil
        }
        var lines = bytes[bytes.startIndex ..< bytes.startIndex + length - 4].split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { $0.last == 0x0D ? $0.dropLast() : $0 }.makeIterator()
        // "HTTP/1.x NNN reason": the version, one space, three digits, then a space or the end of the line.
        let statusLine = Array(lines.next()!)   // `split` gives at least one line
        guard statusLine.count >= 12, statusLine.starts(with: "HTTP/1.".utf8), (0x30 ... 0x31).contains(statusLine[7]),
              statusLine[8] == 0x20, statusLine[9 ..< 12].allSatisfy({ (0x30 ... 0x39).contains($0) }),
              statusLine.count == 12 || statusLine[12] == 0x20
        else { throw HTTPAnswerError(description: "not an HTTP/1.1 status line: \(printable(statusLine))") }
        let status = statusLine[9 ..< 12].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 200 else { throw HTTPAnswerError(description: "an interim answer (\(status)) that was not asked for") }
        var contentLength: Int?, chunked = false
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else {
                throw HTTPAnswerError(description: "not a header line: \(printable(Array(line)))")
            }
            let name = line[..<colon], value = trimmed(line[line.index(after: colon)...])
            if equalsIgnoringCase(name, "content-length") {
                guard !value.isEmpty, value.count <= 10, value.allSatisfy({ (0x30 ... 0x39).contains($0) }) else {
                    throw HTTPAnswerError(description: "Content-Length is not a decimal number: \(printable(Array(value)))")
                }
                let parsed = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                guard parsed <= maxBody else { throw HTTPAnswerError(description: "a body of \(parsed) bytes, over \(maxBody)") }
                guard contentLength == nil || contentLength == parsed else {
                    throw HTTPAnswerError(description: "two different Content-Length headers")
                }
                contentLength = parsed
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                // Chunked must be the last coding; any other coding is one this client does not undo.
                guard equalsIgnoringCase(value, "chunked") else {
                    throw HTTPAnswerError(description: "a Transfer-Encoding this client does not read: \(printable(Array(value)))")
                }
                chunked = true
            }
        }
        if status == 204 || status == 304 { return (status, length, .none) }
        switch (contentLength, chunked) {
        case (let bodyLength?, false): return (status, length, .length(bodyLength))
        case (nil, true): return (status, length, .chunked)
        case (_?, true): throw HTTPAnswerError(description: "an answer with both Content-Length and Transfer-Encoding")
        case (nil, false): throw HTTPAnswerError(description: "an answer framed by the connection's close (no Content-Length)")
        }
    }

    /// The bytes through the head's blank line (CR LF CR LF), or nil if it has not come yet.
    private static func headLength(_ bytes: ByteBufferView) -> Int? {
        var index = bytes.startIndex + 3
        let end = min(bytes.endIndex, bytes.startIndex + maxHead)
        while index < end {
            if bytes[index] == 0x0A, bytes[index - 1] == 0x0D, bytes[index - 2] == 0x0A, bytes[index - 3] == 0x0D {
                return index + 1 - bytes.startIndex
            }
            index += 1
        }
        return nil
    }

    /// A chunked body starting at `start`: its chunks joined, and where it ends (past the last chunk and the
    /// trailers' blank line); nil if it has not all come yet.
    private static func readChunks(_ buffer: ByteBuffer, from start: Int) throws -> (ByteBuffer, Int)? {
        var body = ByteBuffer(), index = start, chunks = 0
        while true {
            guard let line = try self.line(in: buffer, at: index) else { return nil }
            chunks += 1
            guard chunks <= maxChunks else { throw HTTPAnswerError(description: "a body in more than \(maxChunks) chunks") }
            // "SIZE[;extension]": hexadecimal, at most 8 digits (a chunk under 4 GiB; the body's bound is checked below).
            let digits = line.bytes.prefix { $0 != 0x3B }
            let size = try digits.reduce(0) { size, digit in
                guard let value = hexValue(digit), digits.count <= 8 else {
                    throw HTTPAnswerError(description: "not a chunk size: \(printable(line.bytes))")
                }
                return size * 16 + value
            }
            guard !digits.isEmpty else { throw HTTPAnswerError(description: "not a chunk size: \(printable(line.bytes))") }
            index = line.next
            if size == 0 {
                // Trailers, if any, end with a blank line.
                let trailers = index
                while true {
                    guard let trailer = try self.line(in: buffer, at: index) else { return nil }
                    index = trailer.next
                    guard index - trailers <= maxHead else { throw HTTPAnswerError(description: "trailers past \(maxHead) bytes") }
                    if trailer.bytes.isEmpty { return (body, index) }
                }
            }
            guard body.readableBytes + size <= maxBody else { throw HTTPAnswerError(description: "a chunked body over \(maxBody) bytes") }
            guard buffer.writerIndex - index >= size + 2 else { return nil }
            guard buffer.getInteger(at: index + size, as: UInt16.self) == 0x0D0A else {
                throw HTTPAnswerError(description: "a chunk not followed by CR LF")
            }
            var chunk = buffer.getSlice(at: index, length: size)!   // in bounds: checked above
            body.writeBuffer(&chunk)
            index += size + 2
        }
    }

    /// The line at `index` (without its CR LF) and where the next one starts; nil if its end has not come yet.
    /// - Throws: `HTTPAnswerError` for a line longer than `maxHead`.
    private static func line(in buffer: ByteBuffer, at index: Int) throws -> (bytes: [UInt8], next: Int)? {
        let bytes = buffer.readableBytesView
        let from = bytes.startIndex + (index - buffer.readerIndex)
        guard let newline = bytes[from...].prefix(maxHead).firstIndex(of: 0x0A) else {
            if bytes.endIndex - from > maxHead { throw HTTPAnswerError(description: "a chunk line longer than \(maxHead) bytes") }
            return nil
        }
        let line = bytes[from ..< newline]
        return (Array(line.last == 0x0D ? line.dropLast() : line), index + (newline - from) + 1)
    }

    private static func hexValue(_ digit: UInt8) -> Int? {
        switch digit {
        case 0x30 ... 0x39: Int(digit - 0x30)
        case 0x41 ... 0x46: Int(digit - 0x41 + 10)
        case 0x61 ... 0x66: Int(digit - 0x61 + 10)
        default: nil
        }
    }

    /// `bytes` without the spaces and tabs around it.
    private static func trimmed(_ bytes: ByteBufferView) -> ByteBufferView {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    /// Whether `bytes` spell `lowercase` (ASCII), ignoring case.
    private static func equalsIgnoringCase(_ bytes: ByteBufferView, _ lowercase: String) -> Bool {
        bytes.elementsEqual(lowercase.utf8) { byte, expected in ((0x41 ... 0x5A).contains(byte) ? byte | 0x20 : byte) == expected }
    }

    /// Bytes from the peer, as text fit for one error line.
    private static func printable(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(80).map { (0x20 ..< 0x7F).contains($0) ? $0 : 0x3F }, as: UTF8.self)
    }
}
