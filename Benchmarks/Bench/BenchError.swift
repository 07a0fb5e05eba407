/// Why a benchmark could not run or produced figures that must not be trusted.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
