import ArgumentParser
import Grove

/// `--max-memory SIZE`, for tools that must hold their input (rf-tree, pca-fit, zmat split --shuffle,
/// zmat shuffle): without it they stop at the machine's (or the container's) available memory.
public struct MemoryOptions: ParsableArguments {
    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "Refuse, with the numbers, input that would need more than SIZE of memory (e.g. 512M, 2G; default: what the machine or its cgroup has available).",
        valueName: "SIZE"))
    public var maxMemory: String?

    public init() {}

    public func validate() throws {
        if let maxMemory, MemoryBudget.parseSize(maxMemory) == nil {
            throw ValidationError("--max-memory: '\(maxMemory)' is not a size (a positive number of bytes, optionally with K, M, G or T)")
        }
    }

    /// The budget this run may hold.
    public func budget() -> MemoryBudget {
        MemoryBudget.forTool(maxMemory: maxMemory.flatMap(MemoryBudget.parseSize))
    }
}
