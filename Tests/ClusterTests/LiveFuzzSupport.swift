import Datasets
import Engine
import Foundation
import Testing
import ZeroMQ
@testable import Cluster


/// The run both halves share: sync Adam, 2 workers of batch 8 on 600 samples (38 steps an epoch, the last
/// one partial with an empty slice for rank 1), 60 epochs: 2,280 steps.
struct LiveFuzzRun: Sendable {
    let set = SyncSetUp.dataset(count: 600)
    let configuration = SyncSetUp.configuration(.adam, epochs: 60, batchSize: 8)
    let worldSize = 2

    var dataset: DatasetDescription { DatasetDescription(describing: set, testCount: 0) }
    var plan: ShardPlan {
        ShardPlan(sampleCount: set.count, workerCount: worldSize, batchSizePerWorker: configuration.batchSizePerWorker)
    }
    var totalSteps: Int { plan.stepsPerEpoch * configuration.epochs }

    func server(_ context: Context, log: @escaping @Sendable (String) -> Void) throws -> ParameterServer {
        let initial = SyncSetUp.network()
        return try ParameterServer(
            context: context,
            bind: "tcp://127.0.0.1:*",
            weights: Array(initial.parameters),
            fingerprint: initial.fingerprint,
            configuration: configuration,
            dataset: dataset,
            // No waiting for a place: the predictions say a join is refused while every place is taken.
            settings: .init(worldSize: worldSize, joinTimeout: .seconds(30), stepTimeout: .seconds(30), peerLinesPerSecond: nil,
                            maximumWaiting: 0),
            events: .init(logger: .lines(log)))
    }

    func worker(_ context: Context, endpoint: String, log: @escaping @Sendable (String) -> Void) throws -> Worker {
        try Worker(context: context, connect: endpoint, trainingSet: set,
                   settings: Worker.Settings(timeout: .seconds(30), heartbeatTimeout: .seconds(30), logger: .lines(log))) { _ in SyncSetUp.network() }
    }

    /// The run without fuzz: its final weights and the number of updates.
    func train() async throws -> ([Float], Int) {
        let context = try Context()
        let server = try server(context, log: { _ in })
        async let finalWeights = server.run()
        let workers = try (0..<worldSize).map { _ in try worker(context, endpoint: server.endpoint, log: { _ in }) }
        let pushes = try await pushCounts(running: workers)
        let weights = try await finalWeights
        let updates = await server.completedUpdates
        #expect(pushes == [totalSteps, totalSteps])
        for worker in workers { await worker.close() }
        await server.close()
        return (weights, updates)
    }

    /// The lines a server writes in any run: joins, epoch ends, the end.
    static func isOrdinaryLogLine(_ line: String) -> Bool {
        line.range(of: #"^parameter server: (rank \d+ joined \(\d+ of \d+ workers\)|epoch \d+ done after \d+ updates|done after \d+ updates)$"#,
                   options: .regularExpression) != nil
    }
}

// MARK: - What the server logs and answers

/// The kinds of log lines the server writes for a message it refuses or drops.
enum LogKind: String, CaseIterable, Sendable {
    /// Beyond the receive limits (too many frames): discarded by the ZeroMQ layer and reported.
    case socketError = "receive-limit"
    /// Failed validation (`dropped a message: <ProtocolError>`).
    case droppedMessage = "invalid"
    /// A valid push-gradient from a peer that has not joined.
    case notJoined = "push-not-joined"
    /// A valid message of a type the server does not take (welcome, weights, stop, …).
    case unexpectedType = "unexpected-type"
    /// A valid join once the server takes no more workers.
    case refusedJoin = "join-refused"
    /// A valid error from an unjoined peer, logged.
    case unjoinedReport = "unjoined-error"
    /// A valid join on a joined connection: welcomed back at its step.
    case joinedAgain = "joined-again"
    /// A push on a joined connection for another step, a duplicate, a wrong sample count or sender.
    case rankPushDrop = "rank-push-dropped"
    /// A push whose NaN or infinity reached the averaging: must never happen here.
    case rejectedGradient = "nan-rejected"

    init?(line: String) {
        let prefixes: [(String, LogKind)] = [
            ("socket error:", .socketError),
            ("dropped a message:", .droppedMessage),
            ("dropped a push-gradient from a peer that has not joined", .notJoined),
            ("dropped an unexpected ", .unexpectedType),
            ("refused a worker:", .refusedJoin),
            ("an unjoined peer reports:", .unjoinedReport),
            ("dropped a push-gradient of rank ", .rankPushDrop),
            ("dropped a second push-gradient of rank ", .rankPushDrop),
            ("dropped a push-gradient from rank ", .rankPushDrop),
            // A gradient-part (a bit flip can make one) in this run of whole pushes.
            ("dropped a gradient-part from a peer that is not taking part", .notJoined),
            ("dropped a gradient-part of rank ", .rankPushDrop),
            ("dropped a gradient-part from rank ", .rankPushDrop),
            ("rejected the gradient of rank ", .rejectedGradient),
        ]
        guard line.hasPrefix("parameter server: ") else { return nil }
        let text = line.dropFirst("parameter server: ".count)
        if let kind = prefixes.first(where: { text.hasPrefix($0.0) })?.1 {
            self = kind
        } else if text.hasPrefix("rank "), text.hasSuffix(" joined again; welcomed back") {
            self = .joinedAgain
        } else {
            return nil
        }
    }
}

/// The server's answers to a peer's messages.
enum ReplyKind: String, Sendable {
    case setup, welcome, error, other
}

/// The server's log lines counted by kind, with a few examples of each; other lines kept whole.
final class ServerLogTally: @unchecked Sendable {
    // Unchecked: every field is guarded by `lock`.
    private let lock = NSLock()
    private var counts: [LogKind: Int] = [:]
    private var samples: [LogKind: [String]] = [:]
    private var others: [String] = []

    func record(_ line: String) {
        lock.withLock {
            guard let kind = LogKind(line: line) else {
                others.append(line)
                return
            }
            counts[kind, default: 0] += 1
            if samples[kind, default: []].count < 3 { samples[kind, default: []].append(line) }
        }
    }

    func snapshot() -> (counts: [LogKind: Int], samples: [LogKind: [String]], others: [String]) {
        lock.withLock { (counts, samples, others) }
    }
}

/// What one fuzzing peer sent, what it predicts the server logs and answers, and what it heard back.
struct PeerReport: Sendable {
    var name: String
    var sent: [HostileMessages.Category: Int] = [:]
    /// Messages `SocketPump.send` refused (it queues everything until the pump closes: expected 0).
    var unsent = 0
    var expectedLog: [LogKind: Int] = [:]
    var expectedReplies: [ReplyKind: Int] = [:]
    var replies: [ReplyKind: Int] = [:]
    var failures: [String] = []
    /// The training step the peer had seen when it sent its last message.
    var lastStep = 0

    var sentTotal: Int { sent.values.reduce(0, +) }

    mutating func merge(_ other: PeerReport) {
        sent.merge(other.sent, uniquingKeysWith: +)
        unsent += other.unsent
        expectedLog.merge(other.expectedLog, uniquingKeysWith: +)
        expectedReplies.merge(other.expectedReplies, uniquingKeysWith: +)
        replies.merge(other.replies, uniquingKeysWith: +)
        failures += other.failures
    }

    /// Counts one message as sent (if the pump took it) and what the server will do with it.
    mutating func count(_ category: HostileMessages.Category, accepted: Bool, prediction: HostileMessages.Prediction) {
        guard accepted else {
            unsent += 1
            return
        }
        sent[category, default: 0] += 1
        if let log = prediction.log { expectedLog[log, default: 0] += 1 }
        if let reply = prediction.reply { expectedReplies[reply, default: 0] += 1 }
    }

    /// Counts one answer from the server.
    mutating func countReply(_ frames: [ReceivedFrame], fingerprint: UInt64) {
        let message = try? WireMessage.decode(frames: frames, expectedFingerprint: fingerprint, parameterCount: nil)
        switch message?.body {
        case .setup: replies[.setup, default: 0] += 1
        case .error: replies[.error, default: 0] += 1
        case .welcome: replies[.welcome, default: 0] += 1
        default: replies[.other, default: 0] += 1
        }
    }

    /// Counts the server's answers waiting in `mailbox`.
    mutating func drain(_ mailbox: Mailbox<[ReceivedFrame]>, fingerprint: UInt64) async {
        while let frames = await mailbox.next(before: .now) { countReply(frames, fingerprint: fingerprint) }
    }
}

// MARK: - Hostile messages

/// Builds valid, mutated and hostile messages for the server's model and data, and predicts what the
/// server does with each (its decoder, receive limits and actor logic, applied here to the same bytes).
struct HostileMessages: Sendable {
    let fingerprint: UInt64
    let parameterCount: Int
    let dataset: DatasetDescription
    let configuration: TrainingConfiguration
    let plan: ShardPlan
    let limits: ReceiveLimits
    /// The length of the identity frame a ROUTER puts in front of a DEALER's message (libzmq's own ids).
    let identityBytes = 5

    init(run: LiveFuzzRun, fingerprint: UInt64) {
        self.fingerprint = fingerprint
        parameterCount = SyncSetUp.network().parameterCount
        dataset = run.dataset
        configuration = run.configuration
        plan = run.plan
        limits = .parameterServer(parameterCount: parameterCount)
    }

    enum Category: String, CaseIterable, Sendable {
        case valid = "valid"
        case bitFlip = "bit-flips"
        case truncatedFrame = "truncated-frame"
        case droppedFrames = "dropped-frames"
        case extraFrames = "extra-frames"
        case tooManyFrames = "too-many-frames"
        case wrongVersion = "wrong-version"
        case wrongMagic = "wrong-magic"
        case wrongFingerprint = "wrong-fingerprint"
        case absurdLength = "absurd-length"
        case hugeSampleCount = "huge-sample-count"
        case staleOrFutureStep = "stale-or-future-step"
        case duplicatePush = "duplicate-push"
        case nanGradient = "nan-gradient"
        case emptyMessage = "empty-message"
        case badHeaderField = "bad-type-flags-sender"
        case garbage = "garbage"
        case oversized = "oversized-frame"

        /// Every category the regular peers draw from (oversized frames go through throw-away peers).
        static let drawn = allCases.filter { $0 != .oversized }
    }

    struct Prediction {
        var log: LogKind?
        var reply: ReplyKind?
    }

    // MARK: Valid messages

    func push(sender: UInt32, step: UInt64, sampleCount: Int? = nil, loss: Double = 1.5, poison: Float? = nil,
              using random: inout SplitMix) -> [[UInt8]] {
        let stepInEpoch = Int(step % UInt64(plan.stepsPerEpoch))
        let count = sampleCount ?? plan.positions(step: stepInEpoch, rank: Int(sender % 2)).count
        var gradient = count == 0 && poison == nil
            ? [] : (0..<parameterCount).map { _ in Float.random(in: -0.01...0.01, using: &random) }
        if let poison { gradient[Int.random(in: gradient.indices, using: &random)] = poison }
        let body = GradientPush(sampleCount: count, meanLoss: count == 0 ? 0 : loss,
                                isEndOfEpoch: stepInEpoch == plan.stepsPerEpoch - 1, gradient: .array(gradient))
        return WireMessage(sender: sender, step: step, fingerprint: fingerprint, body: .pushGradient(body)).encodedBytes()
    }

    /// A valid message of a random type, as a confused or malicious worker might send it at training step `step`;
    /// `rank` is the rank pushes claim.
    func validMessage(step: Int, rank: UInt32, joined: Bool, using random: inout SplitMix) -> [[UInt8]] {
        let server = MessageHeader.serverSender, unassigned = MessageHeader.unassignedSender
        let current = UInt64(max(0, step))
        let message: WireMessage
        switch Int.random(in: 0..<16, using: &random) {
        case 0, 1: message = WireMessage(sender: unassigned, body: .hello)
        case 2: message = WireMessage(sender: unassigned, body: .join(dataset))
        case 3:
            let other = DatasetDescription(name: dataset.name, trainCount: dataset.trainCount + 1, testCount: 0,
                                           checksum: dataset.checksum)
            message = WireMessage(sender: unassigned, body: .join(other))
        case 4, 5, 6:
            let steps: [UInt64] = [0, current, current + 1, current + 2, current &- 1]
            return push(sender: rank, step: steps.randomElement(using: &random)!, using: &random)
        case 7:
            message = WireMessage(sender: rank, step: current, fingerprint: fingerprint, body: .pushGradient(GradientPush(
                sampleCount: 0, meanLoss: 0, isEndOfEpoch: true, gradient: .array([]))))
        case 8:
            let weights = (0..<parameterCount).map { _ in Float.random(in: -1...1, using: &random) }
            message = WireMessage(sender: server, step: current, fingerprint: fingerprint, body: .weights(.array(weights)))
        case 9:
            message = WireMessage(sender: server, step: current, fingerprint: fingerprint, body: .welcome(Welcome(
                rank: Int(rank), worldSize: 2, configuration: configuration,
                weights: .array([Float](repeating: 0.5, count: parameterCount)))))
        case 10:
            message = WireMessage(sender: server, fingerprint: fingerprint, body: .setup(Setup(configuration: configuration, dataset: dataset)))
        case 11:
            let bodies: [MessageBody] = [.stop, .evaluationRequest]
            message = WireMessage(sender: server, step: current, fingerprint: fingerprint, body: bodies.randomElement(using: &random)!)
        case 12:
            message = WireMessage(sender: rank, step: current, fingerprint: fingerprint,
                                  body: .epochEnd(epoch: UInt64(Int.random(in: 1...30, using: &random))))
        case 13:
            message = WireMessage(sender: rank, step: current, fingerprint: fingerprint, body: .evaluationResult(
                EvaluationResult(meanLoss: 0.4, correct: 90, count: 100)))
        case 14 where !joined:
            message = WireMessage(sender: [unassigned, rank, server].randomElement(using: &random)!,
                                  body: .error(reason: "fuzz: \(random.next())"))
        default:
            message = WireMessage(sender: [unassigned, rank, server].randomElement(using: &random)!, step: current,
                                  fingerprint: fingerprint, body: .heartbeat)
        }
        return message.encodedBytes()
    }

    // MARK: Hostile messages

    /// One or more messages of `category` at training step `step`; `realPush` is a push a worker really sent (for duplicates).
    func messages(_ category: Category, step: Int, rank: UInt32, joined: Bool, realPush: [[UInt8]]?,
                  using random: inout SplitMix) -> [[[UInt8]]] {
        let current = UInt64(max(0, step))
        var frames = validMessage(step: step, rank: rank, joined: joined, using: &random)
        switch category {
        case .valid:
            break
        case .bitFlip:
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let candidates = frames.indices.filter { !frames[$0].isEmpty }
                let frame = Bool.random(using: &random) ? 0 : candidates.randomElement(using: &random)!
                let bit = Int.random(in: 0..<(frames[frame].count * 8), using: &random)
                frames[frame][bit / 8] ^= UInt8(1) << (bit % 8)
            }
        case .truncatedFrame:
            let candidates = frames.indices.filter { !frames[$0].isEmpty }
            let frame = candidates.randomElement(using: &random)!
            frames[frame].removeLast(Int.random(in: 1...frames[frame].count, using: &random))
        case .droppedFrames:
            // A multipart message cut short, or missing a frame in the middle.
            frames = push(sender: rank, step: current, using: &random)
            if frames.count < 2 || Bool.random(using: &random) {
                frames = Array(frames.prefix(Int.random(in: 1..<max(2, frames.count), using: &random)))
            } else {
                frames.remove(at: Int.random(in: 1..<frames.count, using: &random))
            }
        case .extraFrames:
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let size = Bool.random(using: &random) ? parameterCount * 4 : Int.random(in: 0...256, using: &random)
                frames.insert(randomBytes(size, using: &random), at: Int.random(in: 1...frames.count, using: &random))
            }
        case .tooManyFrames:
            let target = Int.random(in: 5...12, using: &random)
            while frames.count < target { frames.append(randomBytes(Int.random(in: 0...64, using: &random), using: &random)) }
        case .wrongVersion:
            let versions: [UInt16] = [0, 2, 3, 0x0100, 0xFFFF, UInt16.random(in: 2...UInt16.max, using: &random)]
            poke(versions.randomElement(using: &random)!, into: &frames[0], at: 4)
        case .wrongMagic:
            if Bool.random(using: &random) {
                frames[0][Int.random(in: 0..<4, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            } else {
                frames[0].replaceSubrange(0..<4, with: [Array("ATPX".utf8), Array("ZMTP".utf8), [0, 0, 0, 0]].randomElement(using: &random)!)
            }
        case .wrongFingerprint:
            let original = UInt64(littleEndian: frames[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self) })
            poke(original ^ (random.next() | 1), into: &frames[0], at: 24)
        case .absurdLength:
            let truth = UInt64(frames.dropFirst().reduce(0) { $0 + $1.count })
            let lies: [UInt64] = [1 << 40, .max, 1 << 63, (1 << 31) + 1, truth + 1, truth &- 1, truth + 4, random.next()]
            poke(lies.randomElement(using: &random)!, into: &frames[0], at: 32)
        case .hugeSampleCount:
            frames = push(sender: rank, step: current, using: &random)
            let counts: [UInt64] = [1 << 30, (1 << 30) + 1, 1 << 40, .max, UInt64(Int.max), random.next()]
            poke(counts.randomElement(using: &random)!, into: &frames[1], at: 0)
        case .staleOrFutureStep:
            let steps: [UInt64] = [0, current &- 1, current, current + 2, current + UInt64.random(in: 3...500, using: &random),
                                   UInt64(plan.stepsPerEpoch * configuration.epochs), 1 << 40, ProtocolLimits.standard.maxStep,
                                   ProtocolLimits.standard.maxStep + 1, .max]
            let sender = Int.random(in: 0..<4, using: &random) == 0 ? 1 - rank % 2 : rank
            frames = push(sender: sender, step: steps.randomElement(using: &random)!, using: &random)
        case .duplicatePush:
            let original = realPush ?? push(sender: rank, step: current, using: &random)
            return Array(repeating: original, count: Int.random(in: 2...3, using: &random))
        case .nanGradient:
            let poisons: [Float] = [.nan, .infinity, -.infinity, Float(bitPattern: 0x7FA0_0001)]
            let steps: [UInt64] = [0, current, current &- 1, current + 2, current + 40]
            let sender = Int.random(in: 0..<4, using: &random) == 0 ? 1 - rank % 2 : rank
            if Bool.random(using: &random) {
                frames = push(sender: sender, step: steps.randomElement(using: &random)!,
                              poison: poisons.randomElement(using: &random)!, using: &random)
            } else {
                frames = push(sender: sender, step: steps.randomElement(using: &random)!,
                              loss: [.nan, .infinity, -.infinity].randomElement(using: &random)!, using: &random)
            }
        case .emptyMessage:
            frames = Array(repeating: [], count: Int.random(in: 1...3, using: &random))
        case .badHeaderField:
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                let types: [UInt16] = [0, 13, 14, 255, 0x7FFF, .max, UInt16.random(in: 13...UInt16.max, using: &random)]
                poke(types.randomElement(using: &random)!, into: &frames[0], at: 6)
            case 1:
                poke(UInt32.random(in: 2...UInt32.max, using: &random) | 2, into: &frames[0], at: 12)
            default:
                let senders: [UInt32] = [65_536, 1 << 20, MessageHeader.serverSender - 2, 0, 1, MessageHeader.unassignedSender]
                poke(senders.randomElement(using: &random)!, into: &frames[0], at: 8)
            }
        case .garbage:
            frames = (0..<Int.random(in: 1...5, using: &random)).map { index in
                var bytes = randomBytes(Int.random(in: 0...64, using: &random), using: &random)
                if index == 0 && Bool.random(using: &random) {
                    bytes = MessageHeader(type: MessageType.allCases.randomElement(using: &random)!,
                                          sender: UInt32(truncatingIfNeeded: random.next() % 3)).encoded
                    for offset in 8..<40 where Bool.random(using: &random) { bytes[offset] = UInt8.random(in: 0...255, using: &random) }
                }
                return bytes
            }
        case .oversized:
            return [oversized(step: current, using: &random)]
        }
        return [frames]
    }

    /// A message with a frame far beyond the server's `ZMQ_MAXMSGSIZE` (a few MB).
    func oversized(step: UInt64, using random: inout SplitMix) -> [[UInt8]] {
        let megabyte = 1 << 20
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            let gradient = [UInt8](repeating: 0x3C, count: 4 * megabyte)
            var statistics = [UInt8](repeating: 0, count: 16)
            poke(UInt64(8), into: &statistics, at: 0)
            let header = MessageHeader(type: .pushGradient, sender: 0, step: step, fingerprint: fingerprint,
                                       payloadLength: UInt64(16 + gradient.count))
            return [header.encoded, statistics, gradient]
        case 1:
            return [[UInt8](repeating: 0xA5, count: 3 * megabyte)]
        default:
            let json = Array("{\"name\": \"".utf8) + [UInt8](repeating: 0x61, count: 2 * megabyte) + Array("\"}".utf8)
            let header = MessageHeader(type: .join, sender: MessageHeader.unassignedSender, payloadLength: UInt64(json.count))
            return [header.encoded, json]
        }
    }

    private func randomBytes(_ count: Int, using random: inout SplitMix) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    // MARK: Predictions

    /// What the server does with `frames` from an unjoined peer, or from the peer of rank `joinedRank`.
    func predict(_ frames: [[UInt8]], joinedRank: Int?) -> Prediction {
        let bytes = identityBytes + frames.reduce(0) { $0 + $1.count }
        if frames.count + 1 > limits.maxFrames || bytes > limits.maxBytes { return Prediction(log: .socketError) }
        let message: WireMessage
        do {
            message = try WireMessage.decode(bytes: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount)
        } catch {
            if case .versionMismatch = error { return Prediction(log: .droppedMessage, reply: .error) }
            return Prediction(log: .droppedMessage)
        }
        switch message.body {
        case .hello: return Prediction(reply: .setup)
        case .heartbeat: return Prediction()
        case .join(let description):
            // Other data is refused even on a joined connection; the same data there is a rank joining again.
            if joinedRank == nil || description != dataset { return Prediction(log: .refusedJoin, reply: .error) }
            return Prediction(log: .joinedAgain, reply: .welcome)
        case .pushGradient: return Prediction(log: joinedRank == nil ? .notJoined : .rankPushDrop)
        case .error: return Prediction(log: joinedRank == nil ? .unjoinedReport : nil)
        default: return Prediction(log: .unexpectedType)
        }
    }

    /// Whether the joined connection of rank `rank` may send `frames` after its real push of step `window`
    /// without touching the training: never an error (it ends the run), never a push of this rank for the
    /// next step (the server may already be there and would take it as the rank's gradient).
    func isHarmless(_ frames: [[UInt8]], rank: Int, window: Int) -> Bool {
        guard let message = try? WireMessage.decode(bytes: frames, expectedFingerprint: fingerprint, parameterCount: parameterCount) else {
            return true
        }
        switch message.body {
        case .error: return false
        case .pushGradient: return !(message.sender == UInt32(rank) && message.step == UInt64(window + 1))
        default: return true
        }
    }
}

// MARK: - Peers

/// How far training has got, as the man in the middle sees it: the last step its worker pushed.
final class FuzzProgress: @unchecked Sendable {
    // Unchecked: every field is guarded by `lock`.
    private let lock = NSLock()
    private var pushedStep = -1
    private var finished = false
    private var rankValue: Int?
    private var identityValue: [UInt8]?

    var step: Int { lock.withLock { pushedStep } }
    var rank: Int? {
        get { lock.withLock { rankValue } }
        set { lock.withLock { rankValue = newValue } }
    }
    var workerIdentity: [UInt8]? {
        get { lock.withLock { identityValue } }
        set { lock.withLock { identityValue = newValue } }
    }

    func pushed(step: Int, last: Bool) {
        lock.withLock {
            pushedStep = step
            finished = finished || last
        }
    }

    /// Waits until the worker has pushed `target` (true), or the run ends or 30 s pass (false).
    func wait(untilStep target: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let (step, done) = lock.withLock { (pushedStep, finished) }
            if step >= target { return true }
            if done { return false }
            try? await Task.sleep(for: .microseconds(300))
        }
        return false
    }
}

/// Raw DEALER peers that speak the protocol by hand.
enum FuzzPeer {
    static func connect(_ context: Context, _ endpoint: String, name: String) throws -> SocketPump {
        try SocketPump(context: context, type: .dealer, name: name) { socket in
            try socket.set(.linger, 0)
            try socket.connect(endpoint)
        }
    }

    /// An unjoined peer that sends `quota` messages in bursts spread over the first 70 % of the run, then
    /// waits until every answer it expects has come.
    static func stranger(context: Context, endpoint: String, hostile: HostileMessages, progress: FuzzProgress,
                         quota: Int, seed: UInt64, totalSteps: Int, name: String? = nil,
                         report existing: PeerReport? = nil, pump existingPump: SocketPump? = nil) async -> PeerReport {
        var report = existing ?? PeerReport(name: name ?? "stranger \(seed & 0xFF)")
        var random = SplitMix(seed: seed)
        let pump: SocketPump
        do {
            pump = try existingPump ?? connect(context, endpoint, name: report.name)
        } catch {
            report.failures.append("cannot connect: \(error)")
            return report
        }
        let burst = 8, bursts = (quota + burst - 1) / burst
        let span = Double(totalSteps) * 0.7
        var sent = 0
        for index in 0..<bursts {
            guard await progress.wait(untilStep: 1 + Int(Double(index) * span / Double(bursts))) else {
                report.failures.append("training ended or stalled before burst \(index) of \(bursts)")
                break
            }
            let step = progress.step
            var inBurst = 0
            while inBurst < burst && sent < quota {
                let category = HostileMessages.Category.drawn.randomElement(using: &random)!
                let rank = UInt32.random(in: 0...1, using: &random)
                for frames in hostile.messages(category, step: step, rank: rank, joined: false, realPush: nil, using: &random) {
                    let accepted = pump.send(frames.map { Frame($0) })
                    report.count(category, accepted: accepted, prediction: hostile.predict(frames, joinedRank: nil))
                    sent += 1
                    inBurst += 1
                }
            }
            report.lastStep = progress.step
            await report.drain(pump.mailbox, fingerprint: hostile.fingerprint)
        }
        // Every answer the server owes this peer: it has then read every message the peer sent.
        let deadline = ContinuousClock.now + .seconds(20)
        while report.replies.values.reduce(0, +) < report.expectedReplies.values.reduce(0, +) && ContinuousClock.now < deadline {
            if let frames = await pump.mailbox.next(before: min(deadline, .now + .milliseconds(100))) {
                report.countReply(frames, fingerprint: hostile.fingerprint)
            }
        }
        await pump.closeAndWait()
        return report
    }

    /// A peer that does a proper hello and join (refused: the server takes no more workers), then fuzzes as a stranger.
    static func refusedJoiner(context: Context, endpoint: String, hostile: HostileMessages, progress: FuzzProgress,
                              quota: Int, seed: UInt64, totalSteps: Int) async -> PeerReport {
        var report = PeerReport(name: "refused joiner")
        let pump: SocketPump
        do {
            pump = try connect(context, endpoint, name: report.name)
        } catch {
            report.failures.append("cannot connect: \(error)")
            return report
        }
        guard await progress.wait(untilStep: 1) else {
            report.failures.append("training did not start")
            await pump.closeAndWait()
            return report
        }
        let unassigned = MessageHeader.unassignedSender
        for body in [MessageBody.hello, .join(hostile.dataset)] {
            let frames = WireMessage(sender: unassigned, body: body).encodedBytes()
            report.count(.valid, accepted: pump.send(frames.map { Frame($0) }), prediction: hostile.predict(frames, joinedRank: nil))
            guard let reply = await pump.mailbox.next(before: .now + .seconds(10)),
                  let message = try? WireMessage.decode(frames: reply, expectedFingerprint: hostile.fingerprint, parameterCount: nil) else {
                report.failures.append("no answer to \(body.type)")
                continue
            }
            switch (body, message.body) {
            case (.hello, .setup(let setup)):
                report.replies[.setup, default: 0] += 1
                if setup.configuration != hostile.configuration || setup.dataset != hostile.dataset {
                    report.failures.append("setup describes another run")
                }
            case (.join, .error(let reason)):
                report.replies[.error, default: 0] += 1
                if reason != "the server takes at most 2 workers" { report.failures.append("join refused with \"\(reason)\"") }
            default:
                report.failures.append("\(message.type) in answer to \(body.type)")
            }
        }
        return await stranger(context: context, endpoint: endpoint, hostile: hostile, progress: progress, quota: quota,
                              seed: seed, totalSteps: totalSteps, report: report, pump: pump)
    }

    /// A throw-away peer that sends a message with a frame of several MB at step `step` (libzmq drops the
    /// connection on `ZMQ_MAXMSGSIZE`), then says hello until the server answers on its new connection.
    static func oversized(context: Context, endpoint: String, hostile: HostileMessages, progress: FuzzProgress,
                          atStep step: Int, seed: UInt64) async -> PeerReport {
        var report = PeerReport(name: "oversized \(seed & 0xFF)")
        var random = SplitMix(seed: seed)
        guard await progress.wait(untilStep: step) else {
            report.failures.append("training ended or stalled before step \(step)")
            return report
        }
        let pump: SocketPump
        do {
            pump = try SocketPump(context: context, type: .dealer, name: report.name) { socket in
                try socket.set(.linger, 0)
                try socket.set(.reconnectInterval, 10)
                try socket.connect(endpoint)
            }
        } catch {
            report.failures.append("cannot connect: \(error)")
            return report
        }
        let frames = hostile.oversized(step: UInt64(progress.step), using: &random)
        // Dropped by libzmq before the server sees it: nothing logged, nothing answered.
        report.count(.oversized, accepted: pump.send(frames.map { Frame($0) }), prediction: HostileMessages.Prediction())
        let hello = WireMessage(sender: MessageHeader.unassignedSender, body: .hello).encodedBytes()
        var answered = false
        let deadline = ContinuousClock.now + .seconds(15)
        while !answered && ContinuousClock.now < deadline {
            pump.send(hello.map { Frame($0) })
            if let reply = await pump.mailbox.next(before: .now + .milliseconds(100)),
               case .setup? = (try? WireMessage.decode(frames: reply, expectedFingerprint: hostile.fingerprint, parameterCount: nil))?.body {
                answered = true
            }
        }
        if !answered { report.failures.append("no setup after the oversized message") }
        report.lastStep = progress.step
        await pump.closeAndWait()
        return report
    }
}

/// A man in the middle between one real worker and the server: it forwards their messages both ways and,
/// after each real push, injects hostile messages on the worker's own (joined) connection; it keeps the
/// server's answers to those from the worker.
final class FuzzProxy: Sendable {
    private let front: SocketPump
    private let back: SocketPump
    /// Where the worker connects.
    var endpoint: String { front.endpoint }

    init(context: Context, server: String) throws {
        front = try SocketPump(context: context, type: .router, name: "fuzz-proxy-front") { socket in
            try socket.set(.linger, 1000)
            try socket.bind("inproc://live-fuzz-\(UUID().uuidString)")
        }
        back = try SocketPump(context: context, type: .dealer, name: "fuzz-proxy-back") { socket in
            try socket.set(.linger, 1000)
            try socket.connect(server)
        }
    }

    func close() async {
        await front.closeAndWait()
        await back.closeAndWait()
    }

    /// Worker → server, with `count` hostile messages after each push but the last.
    func forwardUpstream(injecting count: Int, hostile: HostileMessages, progress: FuzzProgress, seed: UInt64) async -> PeerReport {
        var report = PeerReport(name: "joined connection")
        var random = SplitMix(seed: seed)
        let totalSteps = hostile.plan.stepsPerEpoch * hostile.configuration.epochs
        while true {
            guard let frames = await front.mailbox.next(before: .now + .seconds(30)) else {
                report.failures.append("the worker went silent after step \(progress.step)")
                break
            }
            guard frames.count >= 2 else { continue }
            progress.workerIdentity = frames[0].bytes
            let payload = frames.dropFirst().map(\.bytes)
            back.send(payload.map { Frame($0) })
            guard let message = try? WireMessage.decode(bytes: payload, expectedFingerprint: hostile.fingerprint,
                                                        parameterCount: hostile.parameterCount),
                  case .pushGradient = message.body else { continue }
            let step = Int(message.step), last = step >= totalSteps - 1
            guard let rank = progress.rank else {
                report.failures.append("a push before welcome")
                break
            }
            if !last {
                for _ in 0..<count {
                    while true {
                        let category = HostileMessages.Category.drawn.randomElement(using: &random)!
                        let batch = hostile.messages(category, step: step, rank: UInt32(rank), joined: true, realPush: payload, using: &random)
                        // A duplicate here is the worker's real push, sent once more.
                        guard let frames = batch.first, batch.allSatisfy({ hostile.isHarmless($0, rank: rank, window: step) }) else { continue }
                        report.count(category, accepted: back.send(frames.map { Frame($0) }), prediction: hostile.predict(frames, joinedRank: rank))
                        break
                    }
                }
            }
            report.lastStep = step
            progress.pushed(step: step, last: last)
            if last { break }
        }
        return report
    }

    /// Server → worker: everything until welcome, then weights and stop (and an error that ends the run);
    /// the answers to injected messages are counted and kept back.
    func forwardDownstream(progress: FuzzProgress) async -> PeerReport {
        var report = PeerReport(name: "joined connection (answers)")
        var welcomed = false
        while true {
            guard let frames = await back.mailbox.next(before: .now + .seconds(30)) else {
                report.failures.append("the server went silent")
                break
            }
            let message = try? WireMessage.decode(frames: frames, expectedFingerprint: nil, parameterCount: nil)
            var forward = false, done = false
            switch message?.body {
            case .setup:
                if welcomed { report.replies[.setup, default: 0] += 1 } else { forward = true }
            case .welcome(let welcome):
                if welcomed {
                    report.replies[.welcome, default: 0] += 1
                } else {
                    welcomed = true
                    progress.rank = welcome.rank
                    forward = true
                }
            case .weights, .heartbeat:
                forward = true
            case .stop:
                forward = true
                done = true
            case .error(let reason):
                if !welcomed || reason.hasPrefix("the server stopped") {
                    forward = true
                    done = welcomed
                } else {
                    report.replies[.error, default: 0] += 1
                }
            default:
                report.replies[.other, default: 0] += 1
            }
            if forward, let identity = progress.workerIdentity {
                front.send([Frame(identity)] + frames.map { Frame($0.bytes) })
            }
            if done { break }
        }
        return report
    }
}

// MARK: - Memory

/// Fields of /proc/self/status, in kB (0 where unavailable).
enum ProcessMemory {
    static func kilobytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }
}

/// Samples the resident set every 10 ms until stopped; returns the largest sample.
final class MemoryWatch: @unchecked Sendable {
    // Unchecked: `stopped` is guarded by `lock`.
    private let lock = NSLock()
    private var stopped = false

    func stop() { lock.withLock { stopped = true } }

    func sample() async -> Int {
        var peak = ProcessMemory.kilobytes("VmRSS")
        while !lock.withLock({ stopped }) {
            peak = max(peak, ProcessMemory.kilobytes("VmRSS"))
            try? await Task.sleep(for: .milliseconds(10))
        }
        return max(peak, ProcessMemory.kilobytes("VmRSS"))
    }
}
