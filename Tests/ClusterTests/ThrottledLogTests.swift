import Testing
@testable import Cluster

/// Lines caused by peers are rate-limited, and what is held back is summarised, never lost silently.
@Suite struct ThrottledLogTests {
    @Test func aFloodIsCutToTheLimitAndSummarised() {
        let lines = LogLines()
        let log = ThrottledLog(limit: 5, logger: .lines(lines.append))
        for index in 0..<100 { log("parameter server: dropped a message \(index)") }
        log.flush()
        #expect(lines.lines.count == 6, "\(lines.lines)")
        #expect(lines.lines.prefix(5).allSatisfy { $0.hasPrefix("parameter server: dropped a message") })
        #expect(lines.lines.last == "parameter server: 95 more lines about dropped, refused or rejected messages not shown (at most 5 a second)")
        log.flush()
        #expect(lines.lines.count == 6, "nothing more to summarise")
    }

    @Test func withoutALimitEveryLinePasses() {
        let lines = LogLines()
        let log = ThrottledLog(limit: nil, logger: .lines(lines.append))
        for index in 0..<100 { log("line \(index)") }
        log.flush()
        #expect(lines.lines.count == 100)
    }
}
