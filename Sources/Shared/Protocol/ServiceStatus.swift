import Foundation

/// One container of a compose service, as the Docker engine describes it.
public struct ServiceStatus: Codable, Sendable, Equatable {
    public var service: String
    public var container: String
    public var containerID: String
    /// created, running, paused, restarting, removing, exited, dead — or "missing".
    public var state: String
    /// healthy, unhealthy, starting; nil when the image has no healthcheck.
    public var health: String?
    public var restartCount: Int
    public var exitCode: Int
    public var oomKilled: Bool
    public var startedAt: Date?
    public var finishedAt: Date?
    public var image: String
    /// The container's memory limit in bytes; 0 = none.
    public var memoryLimit: Int64 = 0
    /// Exits 0 by design (qgis3, qgis4, mkcert, createbuckets, mirror_transformation_grids).
    public var oneShot: Bool

    public init(
        service: String, container: String, containerID: String, state: String, health: String? = nil, restartCount: Int = 0,
        exitCode: Int = 0, oomKilled: Bool = false, startedAt: Date? = nil, finishedAt: Date? = nil, image: String = "", oneShot: Bool = false
    ) {
        self.service = service
        self.container = container
        self.containerID = containerID
        self.state = state
        self.health = health
        self.restartCount = restartCount
        self.exitCode = exitCode
        self.oomKilled = oomKilled
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.image = image
        self.oneShot = oneShot
    }

    /// Running (and not unhealthy), or a one-shot that finished with 0.
    public var isFine: Bool {
        if oneShot { return state == "running" || (state == "exited" && exitCode == 0) }
        return state == "running" && health != "unhealthy"
    }
}

/// What the Docker engine could give back: `GET /system/df`.
public struct DockerDiskSummary: Codable, Sendable, Equatable {
    public var imagesBytes: UInt64
    public var reclaimableImageBytes: UInt64
    public var buildCacheBytes: UInt64
    public var reclaimableBuildCacheBytes: UInt64
    public var containersBytes: UInt64
    public var volumesBytes: UInt64
    /// When the engine was asked (the agent asks at most every `docker.disk_usage_interval`);
    /// nil from agents that asked on every report.
    public var measuredAt: Date?

    public init(imagesBytes: UInt64, reclaimableImageBytes: UInt64, buildCacheBytes: UInt64, reclaimableBuildCacheBytes: UInt64, containersBytes: UInt64, volumesBytes: UInt64, measuredAt: Date? = nil) {
        self.imagesBytes = imagesBytes
        self.reclaimableImageBytes = reclaimableImageBytes
        self.buildCacheBytes = buildCacheBytes
        self.reclaimableBuildCacheBytes = reclaimableBuildCacheBytes
        self.containersBytes = containersBytes
        self.volumesBytes = volumesBytes
        self.measuredAt = measuredAt
    }
}

/// QFieldCloud's job queue (`core_job`) at one moment.
public struct QueueStats: Codable, Sendable, Equatable {
    /// status → type → count
    public var counts: [String: [String: Int]]
    public var oldestPendingSeconds: Double?
    public var stuckJobs: [StuckJob]
    /// Projects whose pending jobs wait behind a stuck job (one active job per project).
    public var blockedProjects: Int
    public var blockedPendingJobs: Int
    /// How jobs ended over the recent window (nil from agents that did not look).
    public var recentFailures: JobFailureStats?

    public init(
        counts: [String: [String: Int]], oldestPendingSeconds: Double?, stuckJobs: [StuckJob], blockedProjects: Int, blockedPendingJobs: Int,
        recentFailures: JobFailureStats? = nil
    ) {
        self.counts = counts
        self.oldestPendingSeconds = oldestPendingSeconds
        self.stuckJobs = stuckJobs
        self.blockedProjects = blockedProjects
        self.blockedPendingJobs = blockedPendingJobs
        self.recentFailures = recentFailures
    }

    public func count(_ status: String) -> Int { counts[status]?.values.reduce(0, +) ?? 0 }
}

public struct StuckJob: Codable, Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var status: String
    public var type: String
    public var ageSeconds: Double
    /// `queued` with no `started_at`: QFieldCloud's own reaper never fails these.
    public var neverStarted: Bool

    public init(id: String, projectID: String, status: String, type: String, ageSeconds: Double, neverStarted: Bool) {
        self.id = id
        self.projectID = projectID
        self.status = status
        self.type = type
        self.ageSeconds = ageSeconds
        self.neverStarted = neverStarted
    }
}

/// QFieldCloud's `GET /api/v1/status/` body and how it was reached.
public struct AppStatus: Codable, Sendable, Equatable {
    public var url: String
    public var httpStatus: Int?
    /// e.g. database → ok, storage → error
    public var components: [String: String]
    public var error: String?

    public init(url: String, httpStatus: Int?, components: [String: String], error: String?) {
        self.url = url
        self.httpStatus = httpStatus
        self.components = components
        self.error = error
    }
}

/// The public certificate of the QFieldCloud host.
public struct TLSStatus: Codable, Sendable, Equatable {
    public var url: String
    public var notAfter: Date?
    public var daysLeft: Double?
    /// Set when a client that verifies (as QField does) refuses the certificate or chain.
    public var verificationError: String?

    public init(url: String, notAfter: Date?, daysLeft: Double?, verificationError: String?) {
        self.url = url
        self.notAfter = notAfter
        self.daysLeft = daysLeft
        self.verificationError = verificationError
    }
}
