import ArgumentParser
import Grove
import GroveCLI

@main
struct RfPredict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rf-predict",
        abstract: "Predict labels (or class probabilities) for rows with a forest.",
        discussion: """
        Reads rows (FILE, or standard input when FILE is absent or -) block by block and writes \
        one int32 predicted label per row, or with --proba one float32 probability per class \
        (the average of the trees' leaf distributions). Input labels pass through as the output's \
        labels, so `rf-predict | rf-eval` scores the predictions. Memory stays constant whatever \
        the number of rows; all cores are used and the output never depends on how many.

        Examples:
          rf-predict -m forest.zmat test.zmat -o predictions.zmat
          mnist-decode t10k-images.gz t10k-labels.gz | rf-predict -m forest.zmat | rf-eval
          rf-predict -m forest.zmat --proba test.zmat | zmat head -n 5 | zmat convert --to csv
        """)

    static func main() { ToolMain.run(Self.self) }

    @Option(name: [.short, .customLong("model")], help: "The forest (or tree) from rf-tree or rf-merge.")
    var model: String

    @Argument(help: "Rows to predict (zmat). Standard input when absent or -.")
    var input: String?

    @Flag(help: "Write per-class probabilities (float32, one column per class) instead of labels.")
    var proba = false

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if model == "-" && (input == nil || input == "-") {
            throw ValidationError("the model and the rows cannot both come from standard input")
        }
    }

    func run() throws {
        let forest = try Forest(path: model, statistics: false)
        // ZmatReader refuses a terminal as standard input.
        let file = try InputFile(path: input)
        let reader = try ZmatReader(file)
        try forest.checkCompatible(reader.header, name: reader.name)
        let output = try outputOptions.open()
        let line = progressOptions.line("rf-predict", "predicting", reading: [file])
        try ForestPrediction.run(forest: forest, reader: reader, output: output, probabilities: proba,
                                 threads: threadOptions.count, producer: "rf-predict \(GroveVersion.string)",
                                 progress: line.style == .off ? nil : { line.update($0) })
        try output.commit()
        line.finish()
    }
}
