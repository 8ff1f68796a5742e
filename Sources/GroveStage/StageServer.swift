import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A stage server: one event loop for HTTP (the tools do the work, in their own processes), a
/// pool of threads that wait for tool processes, and Knative's lifecycle: listen on the port,
/// and on SIGTERM stop accepting, finish what is in flight, exit 0.
public final class StageServer {
    public let config: StageConfiguration
    private let logger: Logger

    public init(config: StageConfiguration, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Serves until SIGTERM or SIGINT and the last request has finished. `bound` is called with
    /// the port actually bound (useful with port 0).
    public func run(bound: (Int) -> Void = { _ in }) throws {
        signal(SIGPIPE, SIG_IGN)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: config.maxProcesses + 1)
        pool.start()
        let loop = group.next()
        // The store's client has an event loop of its own: downloads write their files from it.
        let storeGroup = config.store.map { _ in MultiThreadedEventLoopGroup(numberOfThreads: 1) }
        let store = config.store.map { S3Client(store: $0, group: storeGroup!, requestTimeout: .milliseconds(config.timeoutMilliseconds)) }
        let state = StageState(config: config, threadPool: pool, logger: logger, store: store)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(StageHandler(state: state))
                }
            }
        let channel = try bootstrap.bind(host: config.host, port: config.port).wait()
        let port = channel.localAddress?.port ?? config.port
        logger.info("listening", metadata: ["address": "\(config.host):\(port)", "stage": "\(config.name)",
                                             "template": "\(config.template)", "max_processes": "\(config.maxProcesses)",
                                             "max_queue": "\(config.maxQueue)", "timeout_ms": "\(config.timeoutMilliseconds)",
                                             "store": "\(config.store.map { "\($0.endpoint)/\($0.bucket)" } ?? "none")"])
        bound(port)

        // SIGTERM (Knative's stop) and SIGINT: drain, then exit.
        let done = loop.makePromise(of: Void.self)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [logger] in
                loop.execute {
                    guard !state.draining else { return }
                    state.draining = true
                    logger.info("draining", metadata: ["in_flight": "\(state.inFlight)", "signal": "\(sig)"])
                    channel.close(promise: nil)
                    if state.inFlight == 0 { done.succeed(()) } else { state.onIdle = { done.succeed(()) } }
                }
            }
            source.resume()
            sources.append(source)
        }
        try done.futureResult.wait()
        logger.info("stopped", metadata: ["stage": "\(config.name)"])
        sources.forEach { $0.cancel() }
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
        try? storeGroup?.syncShutdownGracefully()
    }
}
