/// Comparison whose time does not depend on where two secrets first differ.
public enum ConstantTime {
    public static func equals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        // Walk the expected length whatever the input, so a short guess costs the same.
        var ai = a.makeIterator()
        var bi = b.makeIterator()
        for _ in 0..<max(a.count, b.count) {
            let x = ai.next() ?? 0
            let y = bi.next() ?? 0
            difference |= x ^ y
        }
        return difference == 0
    }

    public static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }
}
