import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Work splitting across cores.
///
/// Every parallel loop in Grove goes through here, so that the result of a computation never
/// depends on how many threads ran it: callers give each index its own output slot and
/// combine slots in index order.
public enum Parallel {
    /// The number of cores this process may use (respects CPU affinity, e.g. `taskset`).
    public static var availableCores: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads.
    /// With `threads <= 1` it runs in order on the calling thread.
    public static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let workers = min(max(1, threads), count)
        if workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        // Workers pull indices from a shared counter: uneven items (trees of different
        // sizes) still balance, and the order of completion does not affect the results.
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        var lock = pthread_mutex_t()
        pthread_mutex_init(&lock, nil)
        defer { pthread_mutex_destroy(&lock) }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    pthread_mutex_lock(&lock)
                    let i = next.pointee
                    next.pointee += 1
                    pthread_mutex_unlock(&lock)
                    if i >= count { break }
                    body(i)
                }
            }
        }
    }

    /// Splits `0..<count` into at most `parts` contiguous ranges of nearly equal size.
    public static func ranges(_ count: Int, parts: Int) -> [Range<Int>] {
        let n = max(1, min(parts, count))
        if count <= 0 { return [] }
        return (0..<n).map { p in (count * p / n)..<(count * (p + 1) / n) }
    }
}
