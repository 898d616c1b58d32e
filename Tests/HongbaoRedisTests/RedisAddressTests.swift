@testable import HongbaoRedis
import HongbaoCore
import Testing

@Suite("Redis addresses and slots")
struct RedisAddressTests {
    @Test func urlsParseWithTheirDefaults() throws {
        let plain = try RedisAddress(url: "redis://127.0.0.1")
        #expect((plain.host, plain.port, plain.password, plain.database) == ("127.0.0.1", 6379, nil, 0))
        let full = try RedisAddress(url: "redis://:s3cret@cache.local:7000/3")
        #expect((full.host, full.port, full.password, full.database) == ("cache.local", 7000, "s3cret", 3))
        let user = try RedisAddress(url: "redis://default:pw@h:1")
        #expect(user.username == "default" && user.password == "pw", "an ACL user is kept, not dropped")
        #expect(try RedisAddress(url: "redis://pw@h").password == "pw" && RedisAddress(url: "redis://pw@h").username == nil)
        #expect(!"\(user)".contains("pw"))
    }

    /// Passwords are never printed: every invalid-address message and every stored URL is redacted.
    @Test func passwordsAreRedactedEverywhere() {
        #expect(RedisAddress.redacted("redis://:S3cretPW@h:1/2") == "redis://:***@h:1/2")
        #expect(RedisAddress.redacted("redis://hb:S3cretPW@h:1,redis://:S3cretPW@g:2,h:3") == "redis://hb:***@h:1,redis://:***@g:2,h:3")
        for bad in ["redis://:S3cretPW@h:0", "redis://:S3cretPW@h:1/x", "redis://:S3cretPW@", "http://:S3cretPW@h:1",
                    "redis://hb:S3cretPW@h:99999", "redis://hb:@h:1"] {
            #expect {
                _ = try RedisAddress.seeds(from: bad)
            } throws: { error in
                !"\(error)".contains("S3cretPW") && (error as? RedisEngineError)?.code == .invalidAddress
            }
        }
    }

    @Test(arguments: [
        ("http://h:1", "expected redis://[[user]:password@]host:port[/db]"),
        ("redis://h:0", "port must be in 1 ... 65535"),
        ("redis://h:99999", "port must be in 1 ... 65535"),
        ("redis://h:1/x", "database must be a number ≥ 0"),
        ("redis://:pw@", "missing host"),
    ])
    func badUrlsSayWhatIsWrong(_ url: String, _ reason: String) {
        #expect {
            _ = try RedisAddress(url: url)
        } throws: { error in
            (error as? RedisEngineError)?.code == .invalidAddress && "\(error)".hasSuffix(reason)
        }
    }

    /// The cluster specification's own example values.
    @Test func slotsFollowTheClusterSpecification() {
        #expect(ClusterSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(ClusterSlot.of(key: "{user1000}.following") == ClusterSlot.of(key: "{user1000}.followers"))
        #expect(ClusterSlot.of(key: "foo{}{bar}") == Int(ClusterSlot.crc16(Array("foo{}{bar}".utf8)[...]) % 16384), "an empty tag hashes the whole key")
        #expect(ClusterSlot.of(key: "foo{{bar}}zap") == ClusterSlot.of(key: "{bar"))
        for id in [PacketID(1), PacketID(42), PacketID(9_999_999)] {
            let slots = Set(RedisKey.scriptKeys(of: id).map { ClusterSlot.of(key: $0.rawValue) })
            #expect(slots == [RedisKey.slot(of: id)], "every key of \(id) is in one slot")
        }
    }
}

@Suite("Redis commands")
struct RedisCommandTests {
    /// A demoted master answers WAIT with an error: that is a topology change (resent after a refresh of the slot
    /// map), never "0 replicas" retried until the recovery timeout and reported as not replicated.
    @Test func aWaitErrorIsATopologyChangeNotZeroReplicas() throws {
        let address = try RedisAddress.seeds(from: "redis://127.0.0.1:7000")[0]
        #expect(try Durability.replicasConfirmed(.integer(1), from: address) == 1)
        #expect {
            _ = try Durability.replicasConfirmed(.error("""
                ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable \
                (which is not the default) writes to replicas are just local and are not propagated.
                """), from: address)
        } throws: { error in
            (error as? RedisEngineError)?.code == .cluster
        }
    }

    /// Integers are written as decimal text into the command's buffer, each its own argument.
    @Test func integersAreDecimalArguments() {
        var command = RedisCommand("SET")
        for value: Int64 in [0, 7, 10, 99, 100, -5, .max, .min] { command.append(value) }
        command.append(UInt64.max)
        command.append(UInt32(4_000_000_000))
        let expected = ["SET", "0", "7", "10", "99", "100", "-5", "9223372036854775807", "-9223372036854775808",
                        "18446744073709551615", "4000000000"]
        #expect(command.lengths == expected.map(\.utf8.count))
        #expect(command.bytes == Array(expected.joined().utf8))
    }
}
