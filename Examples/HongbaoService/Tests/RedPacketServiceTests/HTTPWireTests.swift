import Foundation
import HongbaoCore
@testable import HTTPGrabEngine
import NIOCore
import NIOHTTP1
@testable import RedPacketAPI
import Testing

/// `bench-http`'s own HTTP/1.1: the requests it writes, byte for byte, and the answers it reads — whole, split
/// anywhere, pipelined, chunked — and the malformed or oversized ones it refuses instead of guessing.
@Suite("bench-http's wire")
struct HTTPWireTests {
    static let grabAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n"
        + #"{"outcome":"sold_out"}"#

    static func read(_ text: String) throws -> (HTTPAnswer?, ByteBuffer) {
        var buffer = ByteBuffer(string: text)
        return (try HTTPAnswerReader.read(from: &buffer), buffer)
    }

    @Test("a grab's request is written as the service reads it")
    func grabRequest() {
        var buffer = ByteBuffer()
        HTTPCall(method: .POST, path: "/packets/12/grab", bearer: "a.b.c", json: #"{"member":7}"#)
            .write(host: "127.0.0.1:8080", into: &buffer)
        #expect(String(buffer: buffer) == "POST /packets/12/grab HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nauthorization: Bearer a.b.c\r\n"
            + "content-type: application/json\r\ncontent-length: 12\r\n\r\n{\"member\":7}")
        buffer.clear()
        HTTPCall(method: .GET, path: "/health", headers: [("Idempotency-Key", "k1")]).write(host: "h:1", into: &buffer)
        #expect(String(buffer: buffer) == "GET /health HTTP/1.1\r\nhost: h:1\r\nIdempotency-Key: k1\r\n\r\n")
        buffer.clear()
        HTTPCall(method: .POST, path: "/packets/1/expire").write(host: "h:1", into: &buffer)
        #expect(String(buffer: buffer) == "POST /packets/1/expire HTTP/1.1\r\nhost: h:1\r\ncontent-length: 0\r\n\r\n")
    }

    @Test("an answer is read whole, and only when all of it has come, wherever the bytes are cut")
    func splitAnywhere() throws {
        let text = Self.grabAnswer
        let bytes = Array(text.utf8)
        for cut in 0 ..< bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            #expect(try HTTPAnswerReader.read(from: &buffer) == nil, "cut at \(cut)")
            #expect(buffer.readableBytes == cut, "a partial answer is left unread")
        }
        let (answer, rest) = try Self.read(text)
        #expect(answer?.status == .ok)
        #expect(answer.map { String(buffer: $0.body) } == #"{"outcome":"sold_out"}"#)
        #expect(rest.readableBytes == 0)
    }

    @Test("pipelined answers come off one read in order, and the next one's start is kept")
    func pipelined() throws {
        let second = "HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}"
        var buffer = ByteBuffer(string: Self.grabAnswer + second + "HTTP/1.1 2")
        #expect(try HTTPAnswerReader.read(from: &buffer)?.status == .ok)
        let notFound = try HTTPAnswerReader.read(from: &buffer)
        #expect(notFound?.status == .notFound)
        #expect(notFound.map { String(buffer: $0.body) } == "{}")
        #expect(try HTTPAnswerReader.read(from: &buffer) == nil)
        #expect(String(buffer: buffer) == "HTTP/1.1 2")
    }

    @Test("a chunked body is joined, with its extensions and trailers read past; 204 has no body")
    func chunked() throws {
        let text = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;name=x\r\n{\"id\r\nB\r\n\":12345678}\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let bytes = Array(text.utf8)
        for cut in 0 ..< bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            #expect(try HTTPAnswerReader.read(from: &buffer) == nil, "cut at \(cut)")
        }
        let (answer, rest) = try Self.read(text + "next")
        #expect(answer?.status == .created)
        #expect(answer.map { String(buffer: $0.body) } == #"{"id":12345678}"#)
        #expect(String(buffer: rest) == "next")
        let (empty, _) = try Self.read("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n")
        #expect(empty?.status == .noContent && empty?.body.readableBytes == 0)
    }

    @Test("a malformed or oversized answer is refused, not guessed", arguments: [
        "HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n",
        "HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n",
        "HTTP/1.1 200OK\r\ncontent-length: 0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n",
    ])
    func refused(_ text: String) {
        #expect(throws: HTTPAnswerError.self) { try Self.read(text) }
    }

    @Test("a head that never ends is refused once it passes the bound, not waited for")
    func endlessHead() {
        let text = "HTTP/1.1 200 OK\r\n" + String(repeating: "x-filler: 0123456789\r\n", count: HTTPAnswerReader.maxHead / 20)
        #expect(throws: HTTPAnswerError.self) { try Self.read(text) }
        #expect(throws: HTTPAnswerError.self) {
            try Self.read("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + String(repeating: "1", count: HTTPAnswerReader.maxHead + 1))
        }
    }

    @Test("tokens' parts are base64url without padding, as Foundation's base64 with the URL alphabet")
    func base64URL() {
        var generator = SplitMix64(seed: 7)
        for length in 0 ... 64 {
            let bytes = (0 ..< length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(TokenKeys.base64URL(bytes) == expected, "\(length) bytes")
        }
    }
}
