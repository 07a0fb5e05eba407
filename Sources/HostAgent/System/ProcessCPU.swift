import Foundation

/// CPU time used so far by this process and by its waited-for children (`getrusage`), user
/// plus system, in seconds: what a probe cycle costs, psql and compose included.
struct ProcessCPU: Sendable {
    var own: Double
    var children: Double

    var total: Double { own + children }

    static func now() -> ProcessCPU {
        func seconds(_ who: __rusage_who_t) -> Double {
            var usage = rusage()
            getrusage(who, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        return ProcessCPU(own: seconds(__rusage_who_t(RUSAGE_SELF.rawValue)), children: seconds(__rusage_who_t(RUSAGE_CHILDREN.rawValue)))
    }

    static func - (a: ProcessCPU, b: ProcessCPU) -> ProcessCPU {
        ProcessCPU(own: a.own - b.own, children: a.children - b.children)
    }
}
