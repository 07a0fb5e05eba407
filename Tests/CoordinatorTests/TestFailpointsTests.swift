import Testing
@testable import Coordinator
@testable import Shared

@Suite struct TestFailpointsTests {
    @Test func noVariableOrAnEmptyOneMeansNoFailpoint() throws {
        #expect(try TestFailpoints.fromEnvironment([:]).active.isEmpty)
        #expect(try TestFailpoints.parse("").active.isEmpty)
        #expect(try TestFailpoints.parse(" , ").active.isEmpty)
    }

    @Test func aKnownNameIsActiveWithSpacesAndCommasAround() throws {
        let points = try TestFailpoints.fromEnvironment([TestFailpoints.variable: " ingest.hold-after-store ,"])
        #expect(points.has(.ingestHoldAfterStore))
        #expect(points.active.count == 1)
    }

    @Test func anUnknownNameIsAUsageErrorThatNamesTheKnownOnes() {
        do {
            _ = try TestFailpoints.parse("ingest.hold-after-store,notify.never")
            Issue.record("an unknown failpoint must be refused")
        } catch {
            let text = "\(error)"
            #expect(error is UsageError)
            #expect(text.contains("unknown failpoint \"notify.never\"") && text.contains("known: ingest.hold-after-store"), "\(text)")
            #expect(text.contains("for tests only"))
        }
    }
}
