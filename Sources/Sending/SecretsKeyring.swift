import CloudChatCrypto
import Foundation

/// The keys that encrypt access tokens and app secrets at rest (docs/schema.md §6.6).
///
/// The key file holds one key per line, `<key id> <base64 of 32 bytes>`, with
/// `#` comments. The last key is the one new secrets are encrypted with; the
/// others still decrypt what they encrypted, so a rotation appends a line and
/// re-encrypts at leisure. Only the daemon may read the file.
public struct SecretsKeyring: Sendable {
    /// The key id and key new secrets are encrypted with.
    public let current: (id: String, key: SymmetricKey)
    private let keys: [String: SymmetricKey]

    /// Keys given directly (tests, `rotate-key`); the last one is current.
    public init(keys: [(id: String, key: SymmetricKey)]) throws {
        guard let last = keys.last else { throw SecretsKeyringError("the key file holds no key") }
        current = last
        var byID: [String: SymmetricKey] = [:]
        for (id, key) in keys {
            guard Self.isValidID(id) else {
                throw SecretsKeyringError("key id \"\(id.prefix(64))\" is not valid: use 1 to 64 letters, digits, '-', '_' or '.'")
            }
            guard byID.updateValue(key, forKey: id) == nil else { throw SecretsKeyringError("key id \"\(id)\" appears twice") }
        }
        self.keys = byID
    }

    /// Reads a key file, refusing one that other users can read.
    /// - Throws: ``SecretsKeyringError`` naming the file and line, never a key.
    public init(contentsOf path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecretsKeyringError("cannot read the secrets key file \(path): \(String(cString: strerror(errno))); "
                                      + "create one with `cloudchatd secrets-key generate --file \(path)`")
        }
        if info.st_mode & 0o007 != 0 {
            throw SecretsKeyringError("the secrets key file \(path) can be read or written by any user; run `chmod 600 \(path)` "
                                      + "(or 640 with the daemon's group) and keep it owned by the daemon's user")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SecretsKeyringError("cannot read the secrets key file \(path): permission denied or not UTF-8 text")
        }
        var keys: [(id: String, key: SymmetricKey)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, let bytes = Data(base64Encoded: String(fields[1])), bytes.count == SymmetricKey.byteCount else {
                throw SecretsKeyringError("\(path):\(index + 1): expected \"<key id> <base64 of 32 random bytes>\"")
            }
            do {
                keys.append((String(fields[0]), try SymmetricKey(bytes: bytes)))
            } catch {
                throw SecretsKeyringError("\(path):\(index + 1): \(error)")
            }
        }
        do {
            try self.init(keys: keys)
        } catch let error as SecretsKeyringError {
            throw SecretsKeyringError("\(path): \(error.description)")
        }
    }

    /// The key with this id, if the file holds it.
    public func key(id: String) -> SymmetricKey? { keys[id] }

    /// A new key file's text with one fresh key.
    public static func newFileText(keyID: String = defaultKeyID()) -> String {
        let key = Data(SecureRandom.bytes(count: SymmetricKey.byteCount)).base64EncodedString()
        return """
            # CloudChat secrets key file: one key per line, "<key id> <base64 of 32 bytes>".
            # The last key encrypts new secrets; earlier keys still decrypt what they encrypted.
            # Losing this file means entering every access token and app secret again.
            \(keyID) \(key)

            """
    }

    /// A key id from today's date, e.g. `k20261122`.
    public static func defaultKeyID(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        return "k" + formatter.string(from: now)
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}

/// A key file or key problem. Never holds key material.
public struct SecretsKeyringError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
