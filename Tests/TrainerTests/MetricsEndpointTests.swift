import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-port`: a run's Prometheus metrics on `/metrics`, scraped with a real HTTP client while it trains.
@Suite(.serialized) struct MetricsEndpointTests {
    /// `trainer local` with two workers over tcp serves real values while it trains: world size 2, a step that
    /// increases between scrapes, each rank's heartbeat age, steps and staleness, traffic, and after the first
    /// epoch the test accuracy the epoch line printed.
    @Test(.enabled(if: TrainingData.chosen != nil, TrainingData.absent))
    func aLocalRunServesItsMetricsWhileItTrains() async throws {
        let data = try TrainingData.announced(for: "MetricsEndpointTests")
        let run = try RunningTrainer(["local", "--workers", "2", "--transport", "tcp"] + data.flags
                                     + ["--epochs", "8", "--metrics-port", "0", "--no-progress"])
        let address = try await run.awaitOutput(matching: #"Serving metrics on (http://127\.0\.0\.1:[0-9]+/metrics)"#, timeout: 60)
        let url = try #require(URL(string: address))

        let first = try await PrometheusScrape.until(url, timeout: 120, running: { run.isRunning }) {
            $0["trainer_world_size"] == 2 && ($0["trainer_step"] ?? 0) > 0 && $0[#"trainer_worker_steps_total{rank="1"}"#] != nil
        }
        #expect(first.contentType?.hasPrefix("text/plain; version=0.0.4") == true, "\(first.contentType ?? "no Content-Type")")
        #expect(first.types["trainer_step"] == "gauge" && first.types["trainer_received_bytes_total"] == "counter")
        #expect(first.types["trainer_worker_staleness"] == "histogram", "\(first.types)")
        let step = try #require(first["trainer_step"])
        let later = try await PrometheusScrape.until(url, timeout: 60, running: { run.isRunning }) { ($0["trainer_step"] ?? 0) > step }
        for rank in 0..<2 {
            let age = try #require(later[#"trainer_worker_heartbeat_age_seconds{rank="\#(rank)"}"#], "rank \(rank): \(later.samples)")
            #expect(age >= 0 && age < 10, "rank \(rank) last heard \(age) s ago")
            #expect((later[#"trainer_worker_steps_total{rank="\#(rank)"}"#] ?? 0) > 0, "rank \(rank)")
            #expect((later[#"trainer_worker_staleness_count{rank="\#(rank)"}"#] ?? 0) > 0, "rank \(rank)")
            #expect(later[#"trainer_worker_step{rank="\#(rank)"}"#] != nil, "rank \(rank)")
        }
        let received = try #require(later["trainer_received_bytes_total"]), sent = try #require(later["trainer_sent_bytes_total"])
        // Each push carries the model's gradient (about 0.4 MB for the MLP), each answer its weights.
        #expect(received > 400_000 && sent > 400_000, "received \(received), sent \(sent) bytes")
        #expect(received >= first["trainer_received_bytes_total"] ?? .infinity)
        #expect((later["trainer_samples_per_second"] ?? 0) > 0 && (later["trainer_updates_total"] ?? 0) > 0)
        let loss = try #require(later["trainer_train_loss"])
        #expect(loss > 0 && loss < 5, "train loss \(loss)")
        #expect(later["trainer_dropped_messages_total"] == 0 && later["trainer_rejected_gradients_total"] == 0)

        let printed = try await run.awaitOutput(matching: #"Epoch 1/8: .*test accuracy ([0-9.]+)%"#, timeout: 180)
        let evaluated = try await PrometheusScrape.until(url, timeout: 30, running: { run.isRunning }) { $0["trainer_test_accuracy"] != nil }
        let accuracy = try #require(evaluated["trainer_test_accuracy"])
        #expect(abs(100 * accuracy - (Double(printed) ?? -1)) < 0.01, "scraped \(accuracy), printed \(printed)%")
        #expect(accuracy >= data.bars.syncTwoWorkersOneEpoch - 0.02, "\(accuracy) after 1 epoch")
        #expect((evaluated["trainer_epoch"] ?? 0) >= 1)

        run.send(SIGTERM)
        let ended = try await run.finish(timeout: 60)
        #expect(ended.exitedNormally, "\(ended.stderr)")
    }

    /// In SSP mode a worker held after its push for the slowest has that time in its wait counter, as a
    /// sync push waiting for its step has (with a bound of 0 the first of two pushes of a step is held).
    @Test func anSSPRunCountsTheTimeWorkersAreHeld() async throws {
        let run = try RunningTrainer(["local", "--dataset", "xor", "--workers", "2", "--transport", "tcp", "--mode", "ssp",
                                      "--staleness", "0", "--epochs", "1000000", "--metrics-port", "0", "--no-progress"])
        let address = try await run.awaitOutput(matching: #"Serving metrics on (http://127\.0\.0\.1:[0-9]+/metrics)"#, timeout: 60)
        let url = try #require(URL(string: address))
        let waits = { (scrape: PrometheusScrape) in
            (0..<2).reduce(0.0) { $0 + (scrape[#"trainer_worker_wait_seconds_total{rank="\#($1)"}"#] ?? 0) }
        }
        let scrape = try await PrometheusScrape.until(url, timeout: 60, running: { run.isRunning }) {
            ($0["trainer_step"] ?? 0) > 200 && waits($0) > 0
        }
        #expect(scrape.types["trainer_worker_wait_seconds_total"] == "counter", "\(scrape.types)")
        run.send(SIGTERM)
        let ended = try await run.finish(timeout: 60)
        #expect(ended.exitedNormally, "\(ended.stderr)")
    }

    /// A metrics port another process listens on fails the server at start, naming the flag, address and port.
    @Test func aMetricsPortInUseFailsAtStartNamingThePort() async throws {
        let (listener, port) = try listeningSocket()
        defer { close(listener) }
        let run = try await runTrainer(["server", "--dataset", "xor", "--bind", "tcp://127.0.0.1:*", "--metrics-port", "\(port)"],
                                       timeout: 60)
        #expect(run.exitedNormally && run.status != 0)
        #expect(run.stderr.contains("--metrics-port \(port): cannot serve metrics on 127.0.0.1:\(port): bind failed: address already in use"),
                "\(run.stderr)")
        #expect(!run.stdout.contains("Training"), "the server must not start training: \(run.stdout)")
    }

    /// A metrics address that is not IPv4 and a port outside 0…65535 are refused with the flag named.
    @Test func badMetricsFlagsAreRefused() async throws {
        let address = try await runTrainer(["local", "--dataset", "xor", "--metrics-port", "0", "--metrics-bind", "example.org"], timeout: 60)
        #expect(address.status != 0 && address.stderr.contains("--metrics-bind example.org is not an IPv4 address"), "\(address.stderr)")
        #expect(!address.stderr.contains("--metrics-port"), "the error names the flag that is wrong: \(address.stderr)")
        for value in ["70000", "-1"] {
            let port = try await runTrainer(["server", "--dataset", "xor", "--metrics-port", value], timeout: 60)
            #expect(port.status != 0 && port.stderr.contains("--metrics-port must be a number from 0 to 65535"), "\(value): \(port.stderr)")
        }
    }

    /// A TCP socket listening on 127.0.0.1 on a port the system picks, and that port.
    private func listeningSocket() throws -> (Int32, UInt16) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ScrapeError(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 4) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw ScrapeError(description: "bind or listen on 127.0.0.1: errno \(errno)")
        }
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }
}
