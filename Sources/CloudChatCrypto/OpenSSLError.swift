internal import COpenSSL

/// Reads and clears this thread's OpenSSL error queue.
///
/// OpenSSL keeps errors per thread; draining the queue after every failure
/// keeps a stale entry from being blamed on a later, unrelated call.
func drainOpenSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages.isEmpty ? "no detail from libcrypto" : messages.joined(separator: "; ")
}
