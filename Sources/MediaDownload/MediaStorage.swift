import CloudChatCrypto
import Foundation
import WordPressStore

/// One site's media directory: the files of `cloudchat_media.storage_path`.
///
/// Layout, relative to ``root``:
/// * `YYYY/MM/<32 random hex digits>.<extension>`: stored files. The name carries
///   128 random bits and is never derived from the sender's file name; the
///   extension comes from the MIME type's allowlist (``MediaFileType``).
/// * `.partial/`: downloads in progress, moved into place atomically once verified.
/// * `.htaccess` and an empty `index.html`: nothing here is served directly. The
///   plugin serves files through a route that checks the user's capability.
///
/// Directories are created `0750` and files `0640` (the web server reads them
/// through the group; a set-group-ID bit on the root is kept on new directories).
/// The calls block on the file system: run them off the cooperative pool.
public struct MediaStorage: Sendable {
    /// The media directory, absolute.
    public let root: String

    /// Mode of the directories created.
    public static let directoryMode: mode_t = 0o750
    /// Mode of the files written.
    public static let fileMode: mode_t = 0o640
    /// Where downloads in progress live, under the root.
    static let partialDirectory = ".partial"

    /// - Parameter root: the media directory, absolute, e.g. `/var/www/html/wp-content/uploads/cloudchat`.
    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// The default media directory of a site: `uploads/cloudchat` for blog 1, `uploads/sites/<blog id>/cloudchat`
    /// for the other blogs of a network, where WordPress keeps each blog's uploads.
    /// - Parameter uploadsDirectory: WordPress's uploads directory, absolute, e.g. `/var/www/html/wp-content/uploads`.
    public static func defaultRoot(of site: WordPressSite, uploadsDirectory: String) -> String {
        let uploads = uploadsDirectory.hasSuffix("/") ? String(uploadsDirectory.dropLast()) : uploadsDirectory
        return site.blogID <= 1 ? "\(uploads)/cloudchat" : "\(uploads)/sites/\(site.blogID)/cloudchat"
    }

    /// What keeps the web server from serving or running anything in the media directory.
    public static let htaccess = """
        # CloudChat media: served only through the plugin, which checks the user's capability.
        # Apache 2.4
        <IfModule mod_authz_core.c>
            Require all denied
        </IfModule>
        # Apache 2.2
        <IfModule !mod_authz_core.c>
            Order deny,allow
            Deny from all
        </IfModule>
        # Never run a script from here, whatever the rest of the configuration says.
        <IfModule mod_php.c>
            php_flag engine off
        </IfModule>
        <IfModule mod_php7.c>
            php_flag engine off
        </IfModule>
        RemoveHandler .php .phtml .php3 .php4 .php5 .php7 .php8 .phar .pl .py .cgi .sh
        RemoveType .php .phtml .php3 .php4 .php5 .php7 .php8 .phar
        Options -Indexes -ExecCGI

        """

    // MARK: Preparing

    /// Creates the directory, its `.htaccess`, `index.html` and `.partial/` where missing.
    /// Missing parent directories (a blog's `uploads/sites/<id>`) are created `0755`, as WordPress would.
    /// - Throws: ``MediaStorageError`` when the directory cannot be made or written.
    public func prepare() throws {
        try makeDirectory(root, parentsMode: 0o755)
        try writeIfMissing(".htaccess", Self.htaccess)
        try writeIfMissing("index.html", "")
        try makeDirectory(root + "/" + Self.partialDirectory)
    }

    private func writeIfMissing(_ name: String, _ contents: String) throws {
        let path = root + "/" + name
        var status = stat()
        guard lstat(path, &status) != 0 else { return }
        let partial = root + "/." + name + "." + SecureRandom.hexToken(byteCount: 8) + ".tmp"
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, Self.fileMode)
        guard descriptor >= 0 else { throw MediaStorageError.system("create \(name) in the media directory", path: root) }
        let file = PartialMediaFile(path: partial, descriptor: descriptor, hashing: false)
        do {
            try Array(contents.utf8).withUnsafeBytes { try file.write($0) }
            try file.close(sync: true)
            guard rename(partial, path) == 0 else { throw MediaStorageError.system("put \(name) in place", path: root) }
            file.markMoved()
        } catch {
            file.discard()
            throw error
        }
    }

    // MARK: Downloads

    /// Opens a new, empty file under `.partial/` for a download.
    public func createPartial() throws -> PartialMediaFile {
        let path = "\(root)/\(Self.partialDirectory)/\(SecureRandom.hexToken(byteCount: 16)).part"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, Self.fileMode)
        guard descriptor >= 0 else { throw MediaStorageError.system("create a download file", path: root + "/" + Self.partialDirectory) }
        // The mode given to open() is narrowed by the umask; set it exactly.
        fchmod(descriptor, Self.fileMode)
        return PartialMediaFile(path: path, descriptor: descriptor, hashing: true)
    }

    /// Flushes a finished download to disk and moves it to `YYYY/MM/<random>.<extension>` in one rename.
    /// - Parameters:
    ///   - file: the download; closed afterwards, and removed if it could not be moved.
    ///   - fileExtension: from ``MediaFileType/fileExtension(forMIMEType:)``.
    ///   - date: decides the year and month directories (UTC).
    /// - Returns: the path relative to the root, for `storage_path`.
    public func store(_ file: PartialMediaFile, fileExtension: String, at date: Date = Date()) throws -> String {
        do {
            try file.close(sync: true)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.year, .month], from: date)
            let year = String(format: "%04d", parts.year ?? 1970)
            let month = String(format: "%02d", parts.month ?? 1)
            try makeDirectory("\(root)/\(year)")
            try makeDirectory("\(root)/\(year)/\(month)")
            let relative = "\(year)/\(month)/\(SecureRandom.hexToken(byteCount: 16)).\(fileExtension)"
            guard rename(file.path, "\(root)/\(relative)") == 0 else { throw MediaStorageError.system("move a download into place", path: root) }
            file.markMoved()
            syncDirectory("\(root)/\(year)/\(month)")
            return relative
        } catch {
            file.discard()
            throw error
        }
    }

    /// Removes a stored file (one whose row another daemon took over meanwhile).
    public func remove(relativePath: String) {
        guard !relativePath.contains("..") else { return }
        unlink("\(root)/\(relativePath)")
    }

    /// Removes downloads left in `.partial/` by a daemon that stopped abruptly.
    /// - Parameter age: only files untouched this long go, so running downloads of another daemon stay.
    /// - Returns: how many were removed.
    @discardableResult
    public func sweepPartials(olderThan age: Duration) -> Int {
        let directory = root + "/" + Self.partialDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        let cutoff = time(nil) - time_t(age / .seconds(1))
        var removed = 0
        for name in names where name.hasSuffix(".part") {
            var status = stat()
            let path = directory + "/" + name
            guard lstat(path, &status) == 0, status.st_mtim.tv_sec < cutoff else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    // MARK: Helpers

    /// Creates a directory with ``directoryMode`` unless it exists, keeping the parent's set-group-ID bit.
    private func makeDirectory(_ path: String, parentsMode: mode_t? = nil) throws {
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else { throw MediaStorageError.notADirectory(path) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        var parentStatus = stat()
        if stat(parent, &parentStatus) != 0 {
            guard let parentsMode, !parent.isEmpty, parent != path else { throw MediaStorageError.system("find the parent directory", path: parent) }
            try makeDirectory(parent, parentsMode: parentsMode)
            if chmod(parent, parentsMode) != 0 { throw MediaStorageError.system("set the mode of a directory", path: parent) }
            _ = stat(parent, &parentStatus)
        }
        if mkdir(path, Self.directoryMode) != 0 && errno != EEXIST { throw MediaStorageError.system("create a directory", path: path) }
        if chmod(path, Self.directoryMode | (parentStatus.st_mode & S_ISGID)) != 0 { throw MediaStorageError.system("set the mode of a directory", path: path) }
    }

    /// Makes a rename in a directory durable; best effort.
    private func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        Glibc.close(descriptor)
    }
}

/// A download being written under `.partial/`, hashed as it is written.
///
/// Confined to one thread at a time: created on a file thread, written by the
/// Graph client's transfer thread while the download runs, then finished on a
/// file thread again. Each hand-over passes through a continuation, which orders
/// the accesses; that is why the unchecked `Sendable` is sound. A file neither
/// stored nor discarded is removed when the object goes away.
public final class PartialMediaFile: @unchecked Sendable {
    /// Its path while in progress.
    public let path: String
    private var descriptor: Int32
    private let hasher: SHA256?
    private var moved = false
    /// Bytes written so far.
    public private(set) var byteCount: Int64 = 0

    init(path: String, descriptor: Int32, hashing: Bool) {
        self.path = path
        self.descriptor = descriptor
        hasher = hashing ? SHA256() : nil
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
        if !moved { unlink(path) }
    }

    /// Appends a chunk and feeds it to the digest.
    /// - Throws: ``MediaStorageError`` when the disk refuses (full, quota, I/O error).
    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else { throw MediaStorageError.closed }
        guard var next = chunk.baseAddress, !chunk.isEmpty else { return }
        var remaining = chunk.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw MediaStorageError.system("write a download", path: path)
            }
            next += written
            remaining -= written
        }
        hasher?.update(chunk)
        byteCount += Int64(chunk.count)
    }

    /// The SHA-256 of everything written; call once, after the last write.
    public func digest() -> [UInt8] {
        hasher?.finalize() ?? []
    }

    /// Closes the file, after flushing it to disk when `sync` is set.
    func close(sync: Bool) throws {
        guard descriptor >= 0 else { return }
        let descriptor = self.descriptor
        self.descriptor = -1
        if sync && fsync(descriptor) != 0 {
            let error = MediaStorageError.system("flush a download to disk", path: path)
            Glibc.close(descriptor)
            throw error
        }
        if Glibc.close(descriptor) != 0 { throw MediaStorageError.system("close a download", path: path) }
    }

    func markMoved() {
        moved = true
    }

    /// Closes and removes the file.
    public func discard() {
        try? close(sync: false)
        if !moved {
            unlink(path)
            moved = true
        }
    }
}

/// A file-system failure in the media directory. Names paths under the media
/// directory (random names only) and the system's reason, never file contents.
public struct MediaStorageError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static func system(_ action: String, path: String) -> MediaStorageError {
        let reason = String(cString: strerror(errno))
        return MediaStorageError(description: "could not \(action) (\(path)): \(reason)")
    }

    static func notADirectory(_ path: String) -> MediaStorageError {
        MediaStorageError(description: "\(path) exists and is not a directory")
    }

    static let closed = MediaStorageError(description: "the download file is already closed")
}
