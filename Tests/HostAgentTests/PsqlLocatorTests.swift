import Foundation
import Testing
@testable import HostAgent

@Suite struct PsqlLocatorTests {
    /// A Debian-like layout: bin/psql → share/postgresql-common/pg_wrapper, lib/postgresql/<v>/bin/psql.
    static func layout(versions: [String], wrapper: Bool = true) throws -> (root: String, onPath: String) {
        let root = NSTemporaryDirectory() + "fm-psql-" + UUID().uuidString
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/share/postgresql-common", withIntermediateDirectories: true)
        func executable(_ path: String) throws {
            #expect(fm.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        }
        for version in versions {
            try fm.createDirectory(atPath: "\(root)/lib/postgresql/\(version)/bin", withIntermediateDirectories: true)
            try executable("\(root)/lib/postgresql/\(version)/bin/psql")
        }
        if wrapper {
            try executable(root + "/share/postgresql-common/pg_wrapper")
            try fm.createSymbolicLink(atPath: root + "/bin/psql", withDestinationPath: "../share/postgresql-common/pg_wrapper")
        } else {
            try executable(root + "/bin/psql")
        }
        return (root, root + "/bin/psql")
    }

    @Test func behindDebiansWrapperTheNewestVersionIsUsed() throws {
        let (root, onPath) = try Self.layout(versions: ["9.6", "13", "15", "README"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(PsqlLocator.locate(onPath: onPath, versionsRoot: root + "/lib/postgresql") == root + "/lib/postgresql/15/bin/psql")
    }

    @Test func aVersionDirectoryWithoutPsqlIsPassedOver() throws {
        let (root, onPath) = try Self.layout(versions: ["13"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/lib/postgresql/16/lib", withIntermediateDirectories: true)
        #expect(PsqlLocator.locate(onPath: onPath, versionsRoot: root + "/lib/postgresql") == root + "/lib/postgresql/13/bin/psql")
    }

    @Test func aRealPsqlOrNoVersionsLeavesThePathAsFound() throws {
        let (root, onPath) = try Self.layout(versions: ["15"], wrapper: false)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(PsqlLocator.locate(onPath: onPath, versionsRoot: root + "/lib/postgresql") == onPath)
        let (bare, wrapped) = try Self.layout(versions: [])
        defer { try? FileManager.default.removeItem(atPath: bare) }
        #expect(PsqlLocator.locate(onPath: wrapped, versionsRoot: bare + "/lib/postgresql") == wrapped)
        #expect(PsqlLocator.locate(onPath: nil, versionsRoot: bare) == "psql")
    }

    /// This machine: the test script installs Debian's postgresql, whose psql is the wrapper.
    @Test func onThisMachineThePsqlFoundRuns() throws {
        let located = PsqlLocator.locate()
        let onPath = try #require(SubprocessRunner.resolve("psql"), "psql is not installed: run scripts/install-deps.sh (it installs postgresql)")
        if PsqlLocator.canonical(onPath).hasSuffix("/pg_wrapper") {
            #expect(located.hasPrefix("/usr/lib/postgresql/") && located.hasSuffix("/bin/psql"), "\(located)")
        } else {
            #expect(located == onPath)
        }
        #expect(FileManager.default.isExecutableFile(atPath: located))
    }
}
