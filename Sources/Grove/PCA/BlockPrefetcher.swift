#if canImport(Glibc)
import Glibc
#endif

/// Reads a `ZmatReader`'s blocks on a background thread, a few blocks ahead, so that
/// decompression and hashing overlap with the computation on the blocks already read.
///
/// Blocks come out in stream order; an error from the reader is rethrown by `nextBlock()` at
/// the point the stream failed. Memory: at most `depth` blocks waiting.
public final class BlockPrefetcher {
    /// The reader being read ahead; touch it (e.g. `contentHash`) only after the end.
    public let reader: ZmatReader
    private let depth: Int
    // Shared state, guarded by `mutex`; `changed` is signalled on every change.
    private var queue: [RowBlock] = []
    private var ended = false
    private var failure: Error?
    private var stopping = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    // Consumer-side state.
    private var started = false
    private var inline = false
    private var finished = false

    /// Reads `reader` ahead by up to `depth` blocks, starting at the first `nextBlock()`.
    public init(_ reader: ZmatReader, depth: Int = 2) {
        self.reader = reader
        self.depth = max(1, depth)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        changed = .allocate(capacity: 1)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    private func start() {
        started = true
        // A plain thread, not a Dispatch work item: it blocks for long stretches, and the
        // global queue's few threads are what `Parallel` computes on. The thread holds a
        // reference to `self` until it returns.
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<BlockPrefetcher>.fromOpaque(raw!).takeRetainedValue()
            me.produce()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<BlockPrefetcher>.fromOpaque(context).release()
            inline = true  // no thread: read in the caller instead
            return
        }
        pthread_detach(thread)
    }

    private func produce() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.count >= depth && !stopping { pthread_cond_wait(changed, mutex) }
            let stop = stopping
            pthread_mutex_unlock(mutex)
            if stop { return }
            var block: RowBlock?
            var error: Error?
            do { block = try reader.nextBlock() } catch let e { error = e }
            pthread_mutex_lock(mutex)
            if let block { queue.append(block) } else { ended = true; failure = error }
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
            if block == nil { return }
        }
    }

    /// The next block in stream order, or nil at the end.
    public func nextBlock() throws -> RowBlock? {
        if finished { return nil }
        if !started { start() }
        if inline {
            let block = try reader.nextBlock()
            if block == nil { finished = true }
            return block
        }
        pthread_mutex_lock(mutex)
        while queue.isEmpty && !ended { pthread_cond_wait(changed, mutex) }
        let block = queue.isEmpty ? nil : queue.removeFirst()
        let error = queue.isEmpty && ended ? failure : nil
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        if block == nil {
            finished = true
            if let error { throw error }
        }
        return block
    }

    /// Stops reading ahead (the background thread ends after its current block). Callers that
    /// give up before the end call it so the thread and its blocks are released.
    public func close() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }
}
