import ArgumentParser
import Grove
import GroveCLI

@main
struct GroveReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grove-report",
        abstract: "Write one self-contained HTML page about a DAG run.",
        discussion: """
        Reads the task log (STAGE<TAB>start<TAB>end<TAB>status<TAB>where<TAB>command per line, \
        epoch seconds; more columns are kept as hover text), the predictions (rf-predict output \
        with true labels), PCA models and forests, and writes a page with the run's parameters \
        (every file in --params), a timeline of every task, the stage table, accuracy, the \
        confusion heat map, per-class precision/recall/F1, the scree plot and the forest summary. \
        Inline CSS and SVG only: no script, font or URL. Every input is optional.

        Examples:
          grove-report --times out/stage-times.tsv --params out/params --predictions out/predictions.zmat \\
            --pca out/pca.zmat --forest out/forest.zmat -o out/report.html
          grove-report --times out/stage-times.tsv --class-names fashion --predictions p.zmat > report.html
        """)

    static func main() { ToolMain.run(Self.self) }

    @Option(help: "The task log (pipelines/stage-time.bash records).")
    var times: String?

    @Option(help: "A folder of parameter files (NAME holds the value), as the DAG keeps in OUT/params.")
    var params: String?

    @Option(help: "rf-predict output (labels or --proba) with the true labels as row labels.")
    var predictions: String?

    @Option(help: "A PCA model (pca-fit output); repeat for several.")
    var pca: [String] = []

    @Option(help: "A forest (rf-merge output); repeat for several.")
    var forest: [String] = []

    @Option(help: "Class names, label 0 first, comma-separated, or 'fashion' (Fashion-MNIST's ten). Default: Fashion-MNIST's when the DATASET parameter names it.")
    var classNames: String?

    @Option(help: "The runner that ran the tasks.")
    var runner = "local"

    @Option(help: "Grove's version to show.")
    var groveVersion = GroveVersion.string

    @Option(help: "The commit the tools were built from.")
    var commit = ""

    @Option(help: "The page's title.")
    var title = "Grove run report"

    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
    var output: String?

    func validate() throws {
        if let classNames, (try? RunContext.classNames(classNames)) == nil {
            throw ValidationError("--class-names '\(classNames)': expected comma-separated names (label 0 first) or 'fashion'")
        }
    }

    func run() throws {
        var report = RunReport()
        report.title = title
        report.runner = runner
        report.version = groveVersion
        report.commit = commit
        report.machine = RunContext.machine()
        if let params { report.parameters = RunContext.parameters(directory: params) }
        if let times {
            let bytes = try InputFile(path: times).readAll()
            report.tasks = try TaskRecord.parse(String(decoding: bytes, as: UTF8.self), name: times)
        }
        if let predictions {
            let reader = try ZmatReader(path: predictions)
            report.classification = try ForestEvaluation.evaluate(predictions: reader)
        }
        if let classNames {
            report.classNames = try RunContext.classNames(classNames)
        } else if let dataset = report.parameters.first(where: { $0.0 == "DATASET" })?.1 {
            report.classNames = RunContext.classNames(dataset: dataset) ?? []
        }
        report.pca = try pca.map { ($0, try PCAModel.read(path: $0).model.explainedVarianceRatio) }
        report.forests = try forest.map { try ForestSummary(path: $0) }
        let out = try OutputFile(path: output, binary: false)
        try out.write(report.html())
        try out.commit()
    }
}
