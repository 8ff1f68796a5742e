import ArgumentParser
import Grove
import GroveCLI
import GroveONNX

@main
struct RfExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rf-export",
        abstract: "Export a forest, or a PCA model and a forest, as an ONNX model.",
        discussion: """
        Writes an ONNX model (ai.onnx.ml TreeEnsembleClassifier; IR 8, opset 17, ai.onnx.ml 3) \
        that onnxruntime runs with rf-predict's results: output `label` (int64, the class id) \
        and `probabilities` (float, one column per class in the forest's class order). With \
        --pca the model also projects, as pca-project does: raw rows (e.g. pixels) in, labels \
        out. The forest comes from FILE, or standard input when FILE is absent or -. Only \
        float32 forests (trained on uint8 or float32 rows) can be exported.

        Examples:
          rf-export --onnx forest.zmat -o forest.onnx
          rf-export --onnx --pca pca.zmat --input-type uint8 forest.zmat -o pipeline.onnx
        """)

    static func main() { ToolMain.run(Self.self) }

    @Flag(help: "Write an ONNX model (the one format so far; required, so later formats can be added).")
    var onnx = false

    @Option(help: "The PCA model (from pca-fit) the forest was trained behind: the model then takes the rows pca-project reads.")
    var pca: String?

    @Option(help: "Element type of the model's input: uint8, float32 or float64 (float64 only with --pca).")
    var inputType: ONNXInputType = .float32

    @Argument(help: "The forest (or tree) from rf-tree or rf-merge. Standard input when absent or -.")
    var forest: String?

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard onnx else { throw ValidationError("name the format to write: --onnx") }
        if pca == "-" && (forest == nil || forest == "-") {
            throw ValidationError("the PCA model and the forest cannot both come from standard input")
        }
        if inputType == .float64 && pca == nil {
            throw ValidationError("--input-type float64 needs --pca: a forest's thresholds are float32, so float64 rows would be rounded before the trees see them")
        }
    }

    func run() throws {
        let output = try outputOptions.open()
        let model = try Forest(path: forest, statistics: false)
        let producer = "rf-export \(GroveVersion.string)"
        let bytes: [UInt8]
        if let pca {
            let (pcaModel, _, hash) = try PCAModel.read(path: pca)
            bytes = try ONNXExport.pipelineModel(pca: pcaModel, pcaName: pca, pcaHash: hash, forest: model,
                                                 input: inputType, producer: producer)
        } else {
            bytes = try ONNXExport.forestModel(model, input: inputType, producer: producer)
        }
        try bytes.withUnsafeBytes { try output.write($0) }
        try output.commit()
    }
}

extension ONNXInputType: ExpressibleByArgument {}
