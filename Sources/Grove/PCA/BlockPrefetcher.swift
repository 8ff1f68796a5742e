import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Reads a `ZmatReader`'s blocks on a background thread, a few blocks ahead, so that
/// decompression and hashing overlap with the computation on the blocks already read.
///
/// Blocks come out in stream order; an error from the reader is rethrown by `nextBlock()` at
/// the point the stream failed. Memory: at most `depth` blocks waiting.
public final class BlockPrefetcher {
    public let reader: ZmatReader
    private let depth: Int
    private var queue: [RowBlock?] = []
    private var failure: Error?
    private var finished = false
    private let lock = DispatchSemaphore(value: 1)
    private let filled = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore
    private var started = false
    private let done = DispatchSemaphore(value: 0)

    public init(_ reader: ZmatReader, depth: Int = 2) {
        self.reader = reader
        self.depth = max(1, depth)
        space = DispatchSemaphore(value: self.depth)
    }

    private var stopping = false

    /// Stops reading ahead (the background thread ends after its current block). Callers that
    /// give up before the end call it so the thread and its blocks are released.
    public func close() {
        lock.wait()
        stopping = true
        lock.signal()
        space.signal()
    }

    private func start() {
        started = true
        // A plain thread, not a Dispatch work item: it blocks for long stretches, and the
        // global queue's few threads are what `Parallel` computes on.
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<BlockPrefetcher>.fromOpaque(raw!).takeRetainedValue()
            me.produce()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<BlockPrefetcher>.fromOpaque(context).release()
            // No thread: read in the caller instead.
            inline = true
            return
        }
        pthread_detach(thread)
    }

    private var inline = false

    private func produce() {
        while true {
            space.wait()
            lock.wait()
            let stop = stopping
            lock.signal()
            if stop { break }
            do {
                let block = try reader.nextBlock()
                lock.wait()
                queue.append(block)
                lock.signal()
                filled.signal()
                if block == nil { break }
            } catch {
                lock.wait()
                failure = error
                queue.append(nil)
                lock.signal()
                filled.signal()
                break
            }
        }
        done.signal()
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
        filled.wait()
        lock.wait()
        let block = queue.removeFirst()
        let error = failure
        lock.signal()
        space.signal()
        if block == nil {
            finished = true
            done.wait()
            if let error { throw error }
        }
        return block
    }
}
