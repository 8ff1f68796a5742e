import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat split`: one shard of N (the workflow's partition stage).
    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write shard I of N: rows I, I+N, I+2N, ... (round robin).",
            discussion: """
                With --shuffle, rows are first put in a seeded random order (as 'zmat shuffle
                --seed S' does), so N processes with the same seed write disjoint shards that
                together hold every row once. Data sorted by class must be shuffled before it is
                split into shards that train separately. Without --shuffle the split streams in
                bounded memory; with it the whole input is held in memory.

                Examples:
                  zmat split -n 4 --index 2 all.zmat -o shard2.zmat
                  zmat split -n 2 --shuffle --seed 1 all.zmat --pattern 'shards/part-{i}.zmat'
                """)

        @Option(name: .short, help: "Number of shards.")
        var n: Int

        @Option(help: "Which shard to write (0-based). Required unless --pattern is given.")
        var index: Int?

        @Option(help: "Write every shard, to this path with {i} replaced by the shard index.")
        var pattern: String?

        @Flag(help: "Shuffle rows (seeded) before dealing them out.")
        var shuffle = false

        @Option(help: "Seed for --shuffle.")
        var seed: UInt64 = 0

        @Argument(help: "Input stream (default: standard input).")
        var input: String?

        @OptionGroup var output: OutputOptions
        @OptionGroup var memory: MemoryOptions

        func validate() throws {
            if n < 1 { throw ValidationError("-n must be at least 1") }
            if let index, !(0..<n).contains(index) { throw ValidationError("--index must be in 0..<\(n)") }
            if (index == nil) == (pattern == nil) { throw ValidationError("give exactly one of --index I or --pattern PATH") }
            if let pattern, !pattern.contains("{i}") { throw ValidationError("--pattern must contain {i}") }
            if pattern != nil && output.output != nil { throw ValidationError("-o goes with --index, not --pattern") }
        }

        func run() throws {
            let reader = try ZmatReader(path: input)
            let shards = index.map { [$0] } ?? Array(0..<n)
            var params = [("split", "\(n)")]
            if shuffle { params.append(("shuffle-seed", "\(seed)")) }
            func header(_ i: Int) -> ZmatHeader {
                var h = reader.header
                h.metadata = derivedMetadata(h.metadata, command: "split", params: params + [("shard", "\(i)")])
                return h
            }
            var outputs = [OutputFile]()
            for i in shards {
                let path = pattern.map { $0.replacingAll("{i}", with: "\(i)") } ?? output.output
                outputs.append(try OutputFile(path: path, binary: true, force: output.force))
            }
            let writers = try zip(shards, outputs).map { try ZmatWriter(output: $1, header: header($0)) }
            if shuffle {
                // A shuffle must hold every row; dealing them out in order streams.
                let all = try reader.readAll(budget: memory.budget())
                let order = RowOrder.permutation(count: all.rows, seed: seed)
                for (w, i) in zip(writers, shards) {
                    let mine = RowOrder.roundRobin(rows: order.count, shard: i, of: n).map { order[$0] }
                    try w.append(RowOrder.gather(all, rows: mine).block)
                }
            } else {
                // Stream: deal each block's rows out by their global row number.
                var row = 0
                let rowBytes = reader.header.rowBytes
                while let block = try reader.nextBlock() {
                    for (w, i) in zip(writers, shards) {
                        let first = (i - row % n + n) % n
                        let picks = Array(stride(from: first, to: block.rows, by: n))
                        if picks.isEmpty { continue }
                        let sub = RowBlock(rows: picks.count, columns: block.columns,
                                           elementType: block.elementType, hasLabels: block.labels != nil)
                        for (k, r) in picks.enumerated() {
                            if rowBytes > 0 {
                                sub.bytes.baseAddress!.advanced(by: k * rowBytes)
                                    .copyMemory(from: block.bytes.baseAddress! + r * rowBytes, byteCount: rowBytes)
                            }
                            if let l = block.labels { sub.labels![k] = l[r] }
                        }
                        try w.append(sub)
                    }
                    row += block.rows
                }
            }
            for w in writers { try w.finish() }
            for o in outputs { try o.commit() }
        }
    }
}

extension String {
    /// This text with every `target` replaced.
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
