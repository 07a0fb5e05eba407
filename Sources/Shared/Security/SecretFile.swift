import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files that hold secrets: written 0600 atomically, and refused when others can read them.
public enum SecretFile {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case tooOpen(path: String, mode: String)
        case unreadable(path: String, what: String, reason: String)
        case unwritable(path: String, reason: String)

        public var description: String {
            switch self {
            case .tooOpen(let path, let mode):
                return "\(path) holds a secret but has mode \(mode); run: chmod 600 \(path)"
            case .unreadable(let path, let what, let reason):
                return "cannot read \(what) at \(path): \(reason)"
            case .unwritable(let path, let reason):
                return "cannot write \(path): \(reason)"
            }
        }
    }

    /// Writes `contents` to `path` with mode 0600 via a temporary file and rename, so a
    /// crash or a full disk never leaves a half-written secret behind.
    public static func write(_ contents: String, to path: String) throws {
        try AtomicFile.write(Data(contents.utf8), to: path, mode: 0o600)
    }

    public static func readString(_ path: String, what: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Failure.unreadable(path: path, what: what, reason: String(cString: strerror(errno)))
        }
        if info.st_mode & 0o077 != 0 {
            throw Failure.tooOpen(path: path, mode: String(info.st_mode & 0o777, radix: 8))
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure.unreadable(path: path, what: what, reason: "\(error.localizedDescription)")
        }
    }
}

/// Whole-file writes that are either fully there or not at all.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw SecretFile.Failure.unwritable(path: path, reason: String(cString: strerror(errno)))
        }
        // open() applies the umask; make the mode exact.
        fchmod(fd, mode)
        var failure: String?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw SecretFile.Failure.unwritable(path: path, reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SecretFile.Failure.unwritable(path: path, reason: reason)
        }
    }
}
