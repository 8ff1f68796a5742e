import ArgumentParser
import Grove
import GroveCLI

extension Zmat {
    /// `zmat mean`: the element-wise mean of streams of the same shape and labels.
    struct Mean: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Average streams element by element (e.g. class probabilities of several forests).",
            discussion: """
                Inputs must have the same shape, element type (float32 or float64) and row labels;
                the first input's metadata is kept. Sums are taken in float64, in input order.

                Example (forests trained in different feature spaces vote on one test set):
                  zmat mean proba-0.zmat proba-1.zmat | rf-eval
                """)

        @Argument(help: "Streams to average ('-' for standard input, once).")
        var inputs: [String]

        @OptionGroup var output: OutputOptions

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("give at least one input") }
            if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input can be read only once") }
        }

        func run() throws {
            var first: Matrix?
            var firstName = ""
            var sums = [Double]()
            for name in inputs {
                let reader = try ZmatReader(path: name)
                let m = try reader.readAll()
                guard m.elementType == .float32 || m.elementType == .float64 else {
                    throw GroveError(file: reader.name, "holds \(m.elementType); zmat mean averages float32 or float64")
                }
                if let f = first {
                    guard m.header.isCompatible(with: f.header), m.rows == f.rows else {
                        throw GroveError(file: reader.name, "is \(m.rows) rows of \(m.header.shapeDescription), but \(firstName) is \(f.rows) rows of \(f.header.shapeDescription)")
                    }
                    if let a = f.labels, let b = m.labels, let r = (0..<m.rows).first(where: { a[$0] != b[$0] }) {
                        throw GroveError(file: reader.name, "row \(r): label \(b[r]) differs from \(firstName)'s \(a[r]); inputs must hold the same rows in the same order")
                    }
                } else {
                    first = m
                    firstName = reader.name
                    sums = [Double](repeating: 0, count: m.rows * m.columns)
                }
                let values = m.doubles()
                for i in sums.indices { sums[i] += values[i] }
            }
            let f = first!
            let result = Matrix(header: f.header, rows: f.rows)
            let n = Double(inputs.count)
            if f.elementType == .float32 {
                let v = result.values(as: Float.self)
                for i in sums.indices { v[i] = Float(sums[i] / n) }
            } else {
                let v = result.values(as: Double.self)
                for i in sums.indices { v[i] = sums[i] / n }
            }
            if let src = f.labels, let dst = result.labels {
                for i in 0..<f.rows { dst[i] = src[i] }
            }
            let out = try output.open()
            try result.write(to: out, metadata: derivedMetadata(f.header.metadata, command: "mean", params: [("mean-of", "\(inputs.count)")]))
            try out.commit()
        }
    }
}
