import Foundation
import Shared

/// Where the certificate nginx is configured with lies on this host: `[tls] certificate_file`
/// when set, else derived from the proxy container itself, as QFieldCloud wires it:
/// `QFIELDCLOUD_TLS_CERT` in its environment (a path inside the container, e.g.
/// `/etc/nginx/certs/localhost.pem` or `/etc/letsencrypt/live/<host>/fullchain.pem`) mapped
/// through its mounts (`./conf/nginx/certs`, `./conf/certbot/conf`) to the host.
struct CertificateOnDisk: Sendable {
    var configuredPath: String?
    var engine: any DockerEngine
    var project: String
    var service: String

    struct Located: Sendable, Equatable {
        var path: String
        var chain: [CertificateFacts]
    }

    enum LocateError: Error, CustomStringConvertible {
        /// The install does not say which file nginx serves (nothing to compare with).
        case notFound(String, fix: String)
        /// The file is named but cannot be read or parsed.
        case unreadable(String)

        var description: String {
            switch self {
            case .notFound(let why, _): why
            case .unreadable(let why): why
            }
        }

        var fix: String? {
            if case .notFound(_, let fix) = self { return fix }
            return nil
        }
    }

    /// The host path and the certificates in it (leaf first). Let's Encrypt's `live/` links
    /// are followed, so this is the newest certificate certbot wrote.
    func read() throws(LocateError) -> Located {
        let path = try hostPath()
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable("cannot read the certificate file \(path): \((error as NSError).localizedDescription)")
        }
        do {
            return Located(path: path, chain: try CertificateFacts.chain(fromPEM: text, what: "the certificate file \(path)"))
        } catch {
            throw .unreadable("\(error)")
        }
    }

    func hostPath() throws(LocateError) -> String {
        if let configuredPath { return configuredPath }
        let fix = "set `[tls] certificate_file` in agent.toml to the certificate file nginx serves (e.g. /opt/qfieldcloud/conf/nginx/certs/<host>.pem)"
        let state: DockerContainerState
        do {
            let candidates = try engine.containers(project: project).filter { $0.service == service }
            guard let container = candidates.first(where: { $0.state == "running" }) ?? candidates.first else {
                throw LocateError.notFound("no \(service) container in the compose project \(project) to find its certificate file", fix: fix)
            }
            state = try engine.inspect(container.id)
        } catch let error as LocateError {
            throw error
        } catch {
            throw .unreadable("\(error)")
        }
        guard let inside = state.environmentValue("QFIELDCLOUD_TLS_CERT"), inside.hasPrefix("/") else {
            throw .notFound("the \(service) container has no QFIELDCLOUD_TLS_CERT in its environment", fix: fix)
        }
        guard let path = Self.hostPath(of: inside, mounts: state.mounts) else {
            throw .notFound("\(inside) (QFIELDCLOUD_TLS_CERT) is not on a mount of the \(service) container, so it is not on this host's disk", fix: fix)
        }
        return path
    }

    /// A path inside the container, on the host: through the mount with the longest matching
    /// destination.
    static func hostPath(of inside: String, mounts: [DockerMount]) -> String? {
        let matching = mounts.filter { mount in
            let destination = mount.destination.hasSuffix("/") ? String(mount.destination.dropLast()) : mount.destination
            return inside == destination || inside.hasPrefix(destination + "/")
        }
        guard let mount = matching.max(by: { $0.destination.count < $1.destination.count }) else { return nil }
        let destination = mount.destination.hasSuffix("/") ? String(mount.destination.dropLast()) : mount.destination
        let rest = inside.dropFirst(destination.count)
        let source = mount.source.hasSuffix("/") ? String(mount.source.dropLast()) : mount.source
        return source + rest
    }
}
