import Foundation
import Shared

/// `prune_docker`: dangling images, unused build cache, unused networks. Never volumes, never
/// an image any container uses (running or exited: the QGIS images belong to exited
/// one-shot containers, QFieldCloud #671), never the compose project's own networks.
struct PruneDockerAction: Action {
    static let name = ActionKind.pruneDocker.rawValue
    static let risk = ActionRisk.safe

    struct Payload: Sendable {
        var images: [DockerImage]
        var pruneBuildCache: Bool
        var networks: [DockerNetwork]
        var protectedImageIDs: Set<String>
    }

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<Payload> {
        try parameters.onlyKnown([])
        let engine = context.engine
        let containers: [DockerContainer]
        let dangling: [DockerImage]
        let usage: DockerDiskSummary
        let networks: [DockerNetwork]
        do {
            containers = try engine.allContainers()
            dangling = try engine.danglingImages()
            usage = try engine.diskUsage().summary
            networks = try engine.unusedNetworks()
        } catch {
            throw .unavailable(error.description)
        }
        // An image is protected when any container, running or exited, uses it.
        let protected = Set(containers.map(\.imageID))
        let images = dangling.filter { !protected.contains($0.id) && $0.tags.isEmpty }
        let prunableNetworks = networks.filter { $0.labels["com.docker.compose.project"] != context.compose.project }
        var steps = images.map { "remove dangling image \($0.id.prefix(19)) (\(RelativeTime.bytes($0.size)))" }
        let pruneCache = usage.reclaimableBuildCacheBytes > 0
        if pruneCache { steps.append("prune unused build cache (\(RelativeTime.bytes(usage.reclaimableBuildCacheBytes)) reclaimable)") }
        steps += prunableNetworks.map { "remove unused network \($0.name)" }
        if steps.isEmpty { steps = ["nothing to prune: no dangling images, no unused build cache, no unused networks"] }
        let imageBytes = images.reduce(UInt64(0)) { $0 + $1.size }
        return Planned(
            outcome: ActionOutcome(
                action: Self.name, subject: "docker", dryRun: true, plan: steps,
                before: Self.snapshot(usage, protectedCount: protected.count) .merging([
                    "images to remove": String(images.count), "bytes to free": String(imageBytes + (pruneCache ? usage.reclaimableBuildCacheBytes : 0)),
                ]) { a, _ in a }),
            payload: Payload(images: images, pruneBuildCache: pruneCache, networks: prunableNetworks, protectedImageIDs: protected))
    }

    func execute(_ planned: Planned<Payload>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        let engine = context.engine
        var skipped: [String] = []
        for image in planned.payload.images {
            do {
                try engine.removeImage(image.id)
            } catch {
                // 409: a container started using it since the plan; the engine refused, as it should.
                skipped.append("\(image.id.prefix(19)): \(error)")
            }
        }
        if planned.payload.pruneBuildCache {
            do { _ = try engine.pruneBuildCache() } catch { skipped.append("build cache: \(error)") }
        }
        for network in planned.payload.networks {
            do { try engine.removeNetwork(network.id) } catch { skipped.append("network \(network.name): \(error)") }
        }
        let usage: DockerDiskSummary
        let remaining: Set<String>
        let allImages: Set<String>
        do {
            usage = try engine.diskUsage().summary
            remaining = Set(try engine.danglingImages().map(\.id))
            allImages = Set(try engine.images().map(\.id))
        } catch {
            throw .unavailable(error.description)
        }
        let removed = planned.payload.images.filter { !remaining.contains($0.id) }.count
        let protectedIntact = planned.payload.protectedImageIDs.filter { !$0.isEmpty }.isSubset(of: allImages.union(remaining))
        var outcome = planned.outcome
        outcome.after = Self.snapshot(usage, protectedCount: planned.payload.protectedImageIDs.count).merging([
            "images to remove": String(planned.payload.images.count - removed),
            "bytes to free": String(usage.reclaimableBuildCacheBytes),
        ]) { a, _ in a }
        if !skipped.isEmpty { outcome.plan += skipped.map { "skipped \($0)" } }
        outcome.verified = removed == planned.payload.images.count && protectedIntact
        return outcome
    }

    static func snapshot(_ usage: DockerDiskSummary, protectedCount: Int) -> [String: String] {
        [
            "images bytes": String(usage.imagesBytes), "build cache bytes": String(usage.buildCacheBytes),
            "reclaimable build cache bytes": String(usage.reclaimableBuildCacheBytes), "images in use (protected)": String(protectedCount),
        ]
    }
}
