#if canImport(Glibc)
import Glibc
#endif

/// Everything a stage server is told when it starts; a request can change none of it.
public struct StageConfiguration: Sendable {
    /// The stage's name in logs and reply events (Knative's K_SERVICE when set).
    public var name: String
    public var template: StageTemplate
    /// The tool's absolute path, resolved once at start.
    public var toolPath: String
    public var host = "127.0.0.1"
    public var port = 8080
    public var maxBodyBytes: Int64 = 1 << 30
    public var maxProcesses = 2
    public var maxQueue = 16
    public var timeoutMilliseconds: Int64 = 300_000
    /// Where each request gets a private folder (removed when the request ends).
    public var temporaryRoot = "/tmp"
    /// The tools' environment: the server's own, minus nothing a request could set.
    public var environment: [String] = []
    /// Knative's K_REVISION, for log lines.
    public var revision: String?
    /// The S3 store by-reference requests name objects in (none: such requests get 415).
    public var store: S3Store?

    public init(name: String, template: StageTemplate, toolPath: String) {
        self.name = name
        self.template = template
        self.toolPath = toolPath
    }

    /// The command line run for a request: the template with its literals, the request's values
    /// in value slots, and server-chosen paths in file slots.
    func commandLine(_ bindings: [StageTemplate.Binding], files: (StageTemplate.Binding) -> String) -> [String] {
        [toolPath] + bindings.map { b in
            guard let slot = b.slot else { return b.value }
            return slot.isFile ? files(b) : b.value
        }
    }
}

/// Which processes may run: at most `maxProcesses` at once, then a queue of at most `maxQueue`
/// requests that wait their turn; beyond that a request is refused (503). Confined to the
/// server's one event loop, so it needs no lock.
final class ProcessSlots {
    let limit: Int
    let queueLimit: Int
    private(set) var running = 0
    private var waiting: [SlotTicket] = []

    init(limit: Int, queueLimit: Int) {
        self.limit = limit
        self.queueLimit = queueLimit
    }

    var queued: Int { waiting.count }

    /// Calls `start` now or when a slot frees; false when the queue is full.
    func acquire(_ start: @escaping () -> Void) -> SlotTicket? {
        if running < limit {
            running += 1
            start()
            return SlotTicket(start)
        }
        guard waiting.count < queueLimit else { return nil }
        let box = SlotTicket(start)
        waiting.append(box)
        return box
    }

    /// A queued request that went away gives up its place.
    func cancel(_ box: SlotTicket) {
        waiting.removeAll { $0 === box }
    }

    func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().start()
        }
    }
}

final class SlotTicket {
    let start: () -> Void
    init(_ start: @escaping () -> Void) { self.start = start }
}
