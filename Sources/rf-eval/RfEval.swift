import ArgumentParser
import Grove
import GroveCLI
#if canImport(Glibc)
import Glibc
#endif

@main
struct RfEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rf-eval",
        abstract: "Score a forest: accuracy, confusion matrix, per-class precision/recall/F1.",
        discussion: """
        With -m, predicts the labelled rows of FILE (or standard input) with the model; without, \
        reads rf-predict output (labels or --proba probabilities, with the true labels as row \
        labels). Prints a report whose first line is `accuracy: 0.XXXX`, or one JSON object with \
        --json. --plot draws the confusion matrix as a PNG heat map (accuracy, axis titles, class names \
        from --class-names). --importances adds each \
        feature's mean impurity decrease (normalised to sum 1), most important first; with -m \
        and no rows (standard input a terminal), only the importances are printed.

        Examples:
          rf-eval -m forest.zmat test.zmat
          rf-predict -m forest.zmat test.zmat | rf-eval
          rf-eval -m forest.zmat test.zmat --json --plot confusion.png
          rf-eval -m forest.zmat --importances
        """)

    static func main() { ToolMain.run(Self.self) }

    @Option(name: [.short, .customLong("model")], help: "A forest to predict the rows with.")
    var model: String?

    @Argument(help: "Labelled feature rows (with -m) or rf-predict output. Standard input when absent or -.")
    var input: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Also draw the confusion matrix as a PNG heat map to this file.")
    var plot: String?

    @Option(help: "Class names for --plot, label 0 first, comma-separated, or 'fashion' (Fashion-MNIST's ten).")
    var classNames: String?

    @Flag(help: "Also report feature importances (needs -m).")
    var importances = false

    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let classNames, (try? RunContext.classNames(classNames)) == nil {
            throw ValidationError("--class-names '\(classNames)': expected comma-separated names (label 0 first) or 'fashion'")
        }
        if importances && model == nil { throw ValidationError("--importances needs the model (-m FILE)") }
        if model == "-" && (input == nil || input == "-") {
            throw ValidationError("the model and the rows cannot both come from standard input")
        }
    }

    func run() throws {
        let forest = try model.map { try Forest(path: $0, statistics: importances) }
        let importanceValues = importances ? forest?.importances() : nil
        let onlyImportances = importances && input == nil && isatty(STDIN_FILENO) != 0
        var report: ClassificationReport?
        if !onlyImportances {
            // ZmatReader refuses a terminal as standard input.
            let reader = try ZmatReader(path: input)
            if let forest {
                report = try ForestEvaluation.evaluate(forest: forest, reader: reader, threads: threadOptions.count)
            } else {
                report = try ForestEvaluation.evaluate(predictions: reader)
            }
            if report!.total == 0 { throw GroveError(file: reader.name, "no rows to score") }
        }
        if let plot, let report { try ConfusionPlot.write(report, to: plot, classNames: try classNames.map(RunContext.classNames) ?? [], force: true) }
        var text = ""
        if json {
            var extra = [(String, String)]()
            if let importanceValues {
                extra.append(("importances", "[" + importanceValues.map { "\($0)" }.joined(separator: ", ") + "]"))
            }
            if let report {
                text = report.json(extra: extra)
            } else {
                text = "{" + extra.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}\n"
            }
        } else {
            if let report { text = report.text() }
            if let importanceValues {
                if !text.isEmpty { text += "\n" }
                text += "feature  importance\n"
                let order = importanceValues.indices.sorted {
                    importanceValues[$0] > importanceValues[$1] || (importanceValues[$0] == importanceValues[$1] && $0 < $1)
                }
                for f in order {
                    let name = String(f)
                    text += String(repeating: " ", count: max(0, 7 - name.count)) + name + "  " + formatFixed(importanceValues[f], 6) + "\n"
                }
            }
        }
        let out = try OutputFile(path: nil, binary: false)
        try out.write(text)
        try out.commit()
    }
}
