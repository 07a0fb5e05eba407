import Crypto
import Foundation
import SwiftASN1
import X509

/// Reading and writing the PEM files FieldMedic keeps: certificates and PKCS#8 P-256 keys.
public enum PEMFile {
    /// The first certificate of a PEM file (a chain file starts with the leaf).
    public static func readCertificate(_ path: String, what: String = "certificate") throws -> Certificate {
        let text = try readText(path, what: what)
        do {
            return try Certificate(pemEncoded: firstCertificateBlock(text))
        } catch {
            throw PKIError.invalidPEM(what: "\(what) at \(path)", reason: "\(error)")
        }
    }

    public static func readPrivateKey(_ path: String, what: String = "private key") throws -> P256.Signing.PrivateKey {
        let text = try SecretFile.readString(path, what: what)
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw PKIError.invalidPEM(what: "\(what) at \(path)", reason: "\(error)")
        }
    }

    public static func certificate(fromPEM text: String, what: String) throws -> Certificate {
        do {
            return try Certificate(pemEncoded: firstCertificateBlock(text))
        } catch {
            throw PKIError.invalidPEM(what: what, reason: "\(error)")
        }
    }

    static func firstCertificateBlock(_ text: String) -> String {
        let end = "-----END CERTIFICATE-----"
        guard let range = text.range(of: end) else { return text }
        return String(text[..<range.upperBound])
    }

    public static func pem(_ certificate: Certificate) throws -> String {
        try certificate.serializeAsPEM().pemString + "\n"
    }

    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// SHA-256 of the certificate's DER, lower-case hex: what join tokens pin.
    public static func fingerprint(_ certificate: Certificate) throws -> String {
        Hex.encode(SHA256.hash(data: try der(certificate)))
    }

    static func readText(_ path: String, what: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PKIError.unreadable(what: what, path: path, reason: (error as NSError).localizedDescription)
        }
    }
}

/// Lower-case hex, used for fingerprints, serials and hashes.
public enum Hex {
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode<D: Digest>(_ digest: D) -> String {
        encode(Array(digest))
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
