import HongbaoCore
import HongbaoRedis
import HongbaoTestSupport
import Testing

/// The conformance suite every engine runs (`EngineConformance`), on a real redis-server and on a real Redis
/// Cluster: the same checks, not near-copies. Deadlines are wall-clock milliseconds in Redis, so the manual clock
/// is shifted to the wall clock's epoch.
@Suite("Redis conformance")
struct RedisConformanceTests {
    static let targets: [String] = [RedisTestServer.url.map { _ in "server" }, RedisTestServer.clusterURL.map { _ in "cluster" }]
        .compactMap { $0 }

    static func conformance(_ target: String) -> EngineConformance {
        let url = target == "server" ? RedisTestServer.url! : RedisTestServer.clusterURL!
        return EngineConformance("redis \(target)") { clock in try RedisEngine(url: url, clock: WallOffset(clock)) }
    }

    @Test(.enabled(if: !targets.isEmpty, "no HONGBAO_REDIS_URL nor HONGBAO_REDIS_CLUSTER_URL"), arguments: targets)
    func grabsRetriesAndSellingOut(on target: String) async throws {
        try await Self.conformance(target).grabsRetriesAndSellingOut()
    }

    @Test(.enabled(if: !targets.isEmpty, "no HONGBAO_REDIS_URL nor HONGBAO_REDIS_CLUSTER_URL"), arguments: targets)
    func anExpiryRetriedWithItsKeyHearsRefunded(on target: String) async throws {
        try await Self.conformance(target).anExpiryRetriedWithItsKeyHearsRefunded()
    }

    @Test(.enabled(if: !targets.isEmpty, "no HONGBAO_REDIS_URL nor HONGBAO_REDIS_CLUSTER_URL"), arguments: targets)
    func expiryRefundsExactlyOnceInEveryState(on target: String) async throws {
        try await Self.conformance(target).expiryRefundsExactlyOnceInEveryState()
    }

    @Test(.enabled(if: !targets.isEmpty, "no HONGBAO_REDIS_URL nor HONGBAO_REDIS_CLUSTER_URL"), arguments: targets)
    func theOutcomeRuleAfterTheDeadline(on target: String) async throws {
        try await Self.conformance(target).theOutcomeRuleAfterTheDeadline()
    }

    @Test(.enabled(if: !targets.isEmpty, "no HONGBAO_REDIS_URL nor HONGBAO_REDIS_CLUSTER_URL"), arguments: targets)
    func receiptsCarryTheSeqOfTheShareHeld(on target: String) async throws {
        try await Self.conformance(target).receiptsCarryTheSeqOfTheShareHeld()
    }
}
