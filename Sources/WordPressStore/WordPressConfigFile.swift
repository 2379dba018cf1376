import Foundation

// MARK: - Public API

/// A value a wp-config.php assigns, once evaluated.
public enum PHPValue: Sendable, Equatable {
    /// A PHP string.
    case string(String)
    /// A PHP integer.
    case int(Int)
    /// A PHP float.
    case double(Double)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null

    /// Whether PHP treats the value as true in a condition: everything except `false`, `0`,
    /// `0.0`, `""`, `"0"` and `null`.
    public var isTruthy: Bool {
        switch self {
        case .string(let text): !text.isEmpty && text != "0"
        case .int(let number): number != 0
        case .double(let number): number != 0
        case .bool(let flag): flag
        case .null: false
        }
    }

    /// The value as PHP's `(string)` conversion renders it: `true` is `"1"`, `false` and `null`
    /// are `""`, floats use PHP's default 14 significant digits (`1.0E+25`).
    public var phpStringValue: String {
        switch self {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): Self.phpString(of: number)
        case .bool(let flag): flag ? "1" : ""
        case .null: ""
        }
    }

    private static func phpString(of number: Double) -> String {
        if number.isNaN { return "NAN" }
        if number.isInfinite { return number < 0 ? "-INF" : "INF" }
        // "%.14G" switches to an exponent exactly where PHP does; only the exponent's spelling differs.
        let formatted = String(format: "%.14G", number)
        guard let exponentStart = formatted.firstIndex(of: "E") else { return formatted }
        var mantissa = String(formatted[..<exponentStart])
        if !mantissa.contains(".") { mantissa += ".0" }
        let exponentText = formatted[formatted.index(after: exponentStart)...]
        let exponent = Int(exponentText) ?? 0
        return mantissa + "E" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
    }
}

/// An error reading wp-config.php: names the file and, where it can, the line, and says what to do.
///
/// Messages never contain a value the file assigns; they name the constant instead, so they are
/// safe to log even when the value is a password.
public struct WordPressConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file concerned (for a failed search, the WordPress root searched).
    public var path: String
    /// The 1-based line the problem is at, when it is at a line.
    public var line: Int?
    /// What happened and what to do about it, in plain words.
    public var message: String

    /// Creates an error.
    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `path:line: message`, leaving out whatever is unknown.
    public var description: String {
        switch (path.isEmpty, line) {
        case (false, let line?): "\(path):\(line): \(message)"
        case (false, nil): "\(path): \(message)"
        case (true, let line?): "line \(line): \(message)"
        case (true, nil): message
        }
    }
}

/// What CloudChat reads from a site's wp-config.php.
///
/// The file is PHP, so it is tokenized as PHP and the `define()` calls, top-level `const`
/// declarations and `$table_prefix` assignments are found in it and evaluated as far as that can
/// be done without running PHP: literals, `.` concatenation, earlier constants and variables,
/// `getenv()`, `$_ENV[...]`, `$_SERVER[...]`, the official Docker image's `getenv_docker()`, `?:`,
/// `??`, `? :`, `!`, `&&`, `||`, `===`, `!==` and scalar casts. Control flow is not followed: every
/// `define()` outside a function or class body counts, in the order it appears.
public struct WordPressConfigFile: Sendable, Equatable {
    /// The file read, as given.
    public var path: String
    /// Constants given by `define()` or `const`, keyed by name, for those whose value could be evaluated.
    /// As in PHP, the first definition of a name wins.
    public var constants: [String: PHPValue]
    /// `$table_prefix`, if assigned. As for any PHP variable, the last assignment wins.
    public var tablePrefix: String?
    /// The 1-based line each entry of `constants` was defined on, and under the key
    /// `"$table_prefix"` the line `tablePrefix` was last assigned on, for error messages.
    public var lines: [String: Int]
    /// Whether this is a multisite network, decided as WordPress's `is_multisite()` decides it:
    /// `MULTISITE` if defined (by PHP truthiness, so `true`, `1`, `'1'` and `'true'` count), otherwise
    /// whether any of `SUBDOMAIN_INSTALL`, `VHOST` or `SUNRISE` is defined. `false` when `MULTISITE`
    /// is set to something that cannot be evaluated; ``unevaluated`` then says why.
    public var isMultisite: Bool
    /// Why the settings named in ``reportedNames`` that the file does set could not be used, keyed
    /// like `lines`. Such a name is left out of `constants` (or `tablePrefix` stays `nil`), and
    /// reading the file still succeeds, so the caller can fall back to its own configuration.
    public var unevaluated: [String: WordPressConfigError]

    /// The settings whose failure to evaluate is recorded in ``unevaluated``; other constants that
    /// cannot be evaluated are skipped silently, as wp-config.php sets many CloudChat never needs.
    public static let reportedNames: Set<String> = [
        "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_CHARSET", "MULTISITE", tablePrefixKey,
    ]

    /// The key `lines` and `unevaluated` use for `$table_prefix`.
    public static let tablePrefixKey = "$table_prefix"

    /// Creates a value from parts, for callers that build one without a file.
    public init(
        path: String,
        constants: [String: PHPValue] = [:],
        tablePrefix: String? = nil,
        lines: [String: Int] = [:],
        isMultisite: Bool = false,
        unevaluated: [String: WordPressConfigError] = [:]
    ) {
        self.path = path
        self.constants = constants
        self.tablePrefix = tablePrefix
        self.lines = lines
        self.isMultisite = isMultisite
        self.unevaluated = unevaluated
    }

    /// A constant's value as text: strings as they are, integers and floats as PHP prints them.
    /// `nil` if the constant is not in `constants` or is a boolean or `null`.
    public func string(_ constant: String) -> String? {
        switch constants[constant] {
        case .string(let text): text
        case .int, .double: constants[constant]?.phpStringValue
        case .bool, .null, nil: nil
        }
    }

    /// A setting's value as text, or an error saying why there is none.
    ///
    /// - Parameter name: A constant's name, or ``tablePrefixKey`` for `$table_prefix`.
    /// - Throws: The recorded ``unevaluated`` error, or one saying the file does not set `name`.
    public func requiredString(_ name: String) throws(WordPressConfigError) -> String {
        if let error = unevaluated[name] { throw error }
        let value = name == Self.tablePrefixKey ? tablePrefix : string(name)
        if let value { return value }
        if name != Self.tablePrefixKey, constants[name] != nil {
            throw WordPressConfigError(
                path: path, line: lines[name],
                message: "\(name) is set to a boolean or null, not to text; \(Self.remedy(for: name))"
            )
        }
        let statement = name == Self.tablePrefixKey ? "$table_prefix = '...';" : "define( '\(name)', '...' );"
        throw WordPressConfigError(
            path: path,
            message: "\(name) is not set in this file; add \(statement) or \(Self.remedy(for: name))"
        )
    }

    /// `DB_HOST`, split into host, port and socket the way WordPress splits it.
    ///
    /// - Throws: The recorded ``unevaluated`` error, an error saying `DB_HOST` is not set, or one
    ///   pointing at the line of a `DB_HOST` WordPress could not make sense of either.
    public func databaseHost() throws(WordPressConfigError) -> WordPressDatabaseHost {
        let value = try requiredString("DB_HOST")
        return try WordPressDatabaseHost(parsing: value, name: "DB_HOST", path: path, line: lines["DB_HOST"])
    }

    /// Reads and parses a wp-config.php.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - environment: What `getenv()`, `$_ENV` and `$_SERVER` see, usually cloudchatd's own environment.
    /// - Throws: ``WordPressConfigError`` when the file is missing or unreadable, or has a string,
    ///   comment or heredoc that is never closed.
    public static func load(path: String, environment: [String: String]) throws(WordPressConfigError) -> WordPressConfigFile {
        let fileManager = FileManager.default
        let pointAtSite = "point cloudchatd at the site's WordPress root with --wordpress, or at the file with --wp-config"
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw WordPressConfigError(path: path, message: "wp-config.php not found: there is no file at this path; \(pointAtSite)")
        }
        guard !isDirectory.boolValue else {
            throw WordPressConfigError(
                path: path,
                message: "this is a directory, not wp-config.php; pass the directory with --wordpress or the file itself with --wp-config"
            )
        }
        guard let data = fileManager.contents(atPath: path) else {
            if !fileManager.isReadableFile(atPath: path) {
                throw WordPressConfigError(
                    path: path,
                    message: "wp-config.php cannot be read: permission denied for the user cloudchatd runs as; "
                        + "give that user read access (for example through the web server's group), or \(pointAtSite)"
                )
            }
            throw WordPressConfigError(path: path, message: "wp-config.php could not be read; check the file, or \(pointAtSite)")
        }
        return try WordPressConfigFile(source: [UInt8](data), path: path, environment: environment)
    }

    /// Parses the text of a wp-config.php.
    ///
    /// - Parameters:
    ///   - source: The file's text. Text with no `<?php` tag at all is read as PHP code throughout.
    ///   - path: The file's path, for error messages and `__DIR__`/`__FILE__`.
    ///   - environment: What `getenv()`, `$_ENV` and `$_SERVER` see. Files named by a `*_FILE`
    ///     variable for `getenv_docker()` are read from disk, as the Docker image's helper does.
    /// - Throws: ``WordPressConfigError`` when a string, comment or heredoc is never closed.
    public init(parsing source: String, path: String, environment: [String: String]) throws(WordPressConfigError) {
        try self.init(source: Array(source.utf8), path: path, environment: environment)
    }

    /// Finds the wp-config.php of a WordPress installation the way WordPress's wp-load.php does:
    /// `<root>/wp-config.php`, else `<parent of root>/wp-config.php` provided that directory has no
    /// `wp-settings.php` (which would make it a different WordPress installation).
    ///
    /// - Parameter wordpressRoot: The directory that holds wp-settings.php.
    /// - Returns: The path of the wp-config.php WordPress would load.
    /// - Throws: ``WordPressConfigError`` listing the paths tried.
    public static func locate(wordpressRoot: String) throws(WordPressConfigError) -> String {
        let fileManager = FileManager.default
        var root = wordpressRoot
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        let advice = "pass the WordPress root (the directory holding wp-settings.php) with --wordpress, or the file with --wp-config"
        var isDirectory: ObjCBool = false
        guard !root.isEmpty, fileManager.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WordPressConfigError(path: wordpressRoot, message: "there is no directory at this path; \(advice)")
        }
        let inRoot = joined(root, "wp-config.php")
        if fileManager.fileExists(atPath: inRoot) { return inRoot }

        let parent = phpDirname(root)
        let inParent = joined(parent, "wp-config.php")
        let parentHasConfig = fileManager.fileExists(atPath: inParent)
        let parentIsAnotherInstall = fileManager.fileExists(atPath: joined(parent, "wp-settings.php"))
        if parentHasConfig && !parentIsAnotherInstall { return inParent }

        let why = parentHasConfig
            ? "\(inParent) exists but belongs to another WordPress installation, as wp-settings.php sits beside it"
            : "neither exists"
        throw WordPressConfigError(
            path: root,
            message: "no wp-config.php found; tried \(inRoot) and \(inParent), and \(why); \(advice)"
        )
    }

    private static func joined(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Says how to do without a setting wp-config.php does not give in a usable form.
    static func remedy(for name: String) -> String {
        let overrides: [String: String] = [
            "DB_NAME": "db_name", "DB_USER": "db_user", "DB_PASSWORD": "db_password",
            "DB_HOST": "db_host", "DB_CHARSET": "db_charset", tablePrefixKey: "table_prefix",
        ]
        if let key = overrides[name] {
            return "set \(key) in the cloudchatd config file or CLOUDCHAT_\(key.uppercased()) instead"
        }
        return "give \(name) a plain value such as true, false, a number or a quoted string"
    }

    private init(source: [UInt8], path: String, environment: [String: String]) throws(WordPressConfigError) {
        let tokens: [PHPToken]
        do {
            tokens = try PHPTokenizer.tokenize(source)
        } catch {
            throw WordPressConfigError(path: path, line: error.line, message: error.message)
        }
        var reader = WordPressConfigReader(tokens: tokens, path: path, environment: environment)
        reader.read()
        self = reader.result()
    }
}

// MARK: - Reading definitions out of the tokens

/// Walks the tokens in file order, evaluating each definition against what came before it.
fileprivate struct WordPressConfigReader {
    let tokens: [PHPToken]
    let path: String
    let environment: [String: String]

    private var constants: [String: PHPValue] = [:]
    private var constantLines: [String: Int] = [:]
    /// Constants that are defined, but to a value that could not be evaluated.
    private var failedConstants: [String: (reason: Unevaluable, line: Int)] = [:]
    private var variables: [String: Result<PHPValue, Unevaluable>] = [:]
    private var variableLines: [String: Int] = [:]

    private static let assignmentOperators: Set<String> = [
        "=", ".=", "??=", "+=", "-=", "*=", "/=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>=",
    ]

    init(tokens: [PHPToken], path: String, environment: [String: String]) {
        self.tokens = tokens
        self.path = path
        self.environment = environment
    }

    mutating func read() {
        var index = 0
        var braceDepth = 0
        while index < tokens.count {
            let token = tokens[index]
            switch token.kind {
            case .symbol("{"):
                braceDepth += 1
            case .symbol("}"):
                braceDepth = max(0, braceDepth - 1)
            case .identifier(let name) where !isMemberName(at: index):
                switch name.lowercased() {
                case "define" where isSymbol("(", at: index + 1):
                    readDefine(at: index)
                case "const" where braceDepth == 0:
                    index = readConstDeclaration(at: index)
                    continue
                case "function":
                    // Code in a function body runs only if the function is called.
                    index = indexAfterBody(from: index, stoppingAtSemicolon: true)
                    continue
                case "class", "interface", "trait":
                    index = indexAfterBody(from: index, stoppingAtSemicolon: false)
                    continue
                case "enum" where isIdentifier(at: index + 1):
                    index = indexAfterBody(from: index, stoppingAtSemicolon: false)
                    continue
                default:
                    break
                }
            case .variable(let name) where !isMemberName(at: index):
                if case .symbol(let operation)? = kind(at: index + 1), Self.assignmentOperators.contains(operation) {
                    readAssignment(to: name, operation: operation, at: index)
                }
            default:
                break
            }
            index += 1
        }
    }

    func result() -> WordPressConfigFile {
        var lines = constantLines
        var unevaluated: [String: WordPressConfigError] = [:]
        for (name, failure) in failedConstants where WordPressConfigFile.reportedNames.contains(name) {
            unevaluated[name] = error(for: name, failure.reason, line: failure.line)
        }

        let prefixKey = WordPressConfigFile.tablePrefixKey
        var tablePrefix: String?
        if let assigned = variables["table_prefix"], let line = variableLines["table_prefix"] {
            switch assigned {
            case .success(.string(let text)) where Self.isValidTablePrefix(text):
                tablePrefix = text
                lines[prefixKey] = line
            case .success(.int(let number)):
                tablePrefix = String(number)
                lines[prefixKey] = line
            case .success(.string):
                unevaluated[prefixKey] = WordPressConfigError(
                    path: path, line: line,
                    message: "$table_prefix may contain only letters, digits and underscores, as WordPress also insists; "
                        + "fix it, or \(WordPressConfigFile.remedy(for: prefixKey))"
                )
            case .success:
                unevaluated[prefixKey] = WordPressConfigError(
                    path: path, line: line,
                    message: "$table_prefix is not set to text; fix it, or \(WordPressConfigFile.remedy(for: prefixKey))"
                )
            case .failure(let reason):
                unevaluated[prefixKey] = error(for: prefixKey, reason, line: line)
            }
        }

        let isMultisite: Bool
        if let multisite = constants["MULTISITE"] {
            isMultisite = multisite.isTruthy
        } else if failedConstants["MULTISITE"] != nil {
            isMultisite = false
        } else {
            // WordPress's is_multisite() also trusts the older constants that only a network defines.
            isMultisite = ["SUBDOMAIN_INSTALL", "VHOST", "SUNRISE"].contains {
                constants[$0] != nil || failedConstants[$0] != nil
            }
        }

        return WordPressConfigFile(
            path: path,
            constants: constants,
            tablePrefix: tablePrefix,
            lines: lines,
            isMultisite: isMultisite,
            unevaluated: unevaluated
        )
    }

    private static func isValidTablePrefix(_ prefix: String) -> Bool {
        prefix.utf8.allSatisfy { WordPressConfigBytes.isLetter($0) || WordPressConfigBytes.isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    private func error(for name: String, _ reason: Unevaluable, line: Int) -> WordPressConfigError {
        let remedy = WordPressConfigFile.remedy(for: name)
        let message: String
        switch reason {
        case .environmentNotSet(let expression, let variable, _):
            message = "\(name) cannot be evaluated: \(expression) is not set in cloudchatd's environment; "
                + "give cloudchatd \(variable) too (for example with Environment= in its systemd unit), or \(remedy)"
        case .unreadableSecretFile(let variable, let file):
            message = "\(name) cannot be evaluated: \(variable) names a file cloudchatd cannot read (\(file)); "
                + "let cloudchatd read it, or \(remedy)"
        default:
            message = "\(name) is set with an expression cloudchatd cannot evaluate (\(reason.explanation)); \(remedy)"
        }
        return WordPressConfigError(path: path, line: line, message: message)
    }

    // MARK: Definitions

    private mutating func readDefine(at index: Int) {
        guard let arguments = argumentRanges(openingAt: index + 1) else { return }
        // define(constant_name: ..., value: ...) names its arguments; anything else is positional.
        var positional: [Range<Int>] = []
        var named: [String: Range<Int>] = [:]
        for range in arguments {
            if case .identifier(let label)? = kind(at: range.lowerBound), range.count > 2,
               isSymbol(":", at: range.lowerBound + 1) {
                named[label.lowercased()] = (range.lowerBound + 2)..<range.upperBound
            } else {
                positional.append(range)
            }
        }
        guard let nameRange = named["constant_name"] ?? positional.first,
              let valueRange = named["value"] ?? (positional.count > 1 ? positional[1] : nil),
              case .success(.string(let name)) = evaluate(tokensIn: nameRange)
        else { return }
        define(name, as: evaluate(tokensIn: valueRange), line: tokens[index].line)
    }

    /// Reads `const NAME = value, OTHER = value;` and returns the index after it.
    private mutating func readConstDeclaration(at index: Int) -> Int {
        var position = index + 1
        while case .identifier(let name)? = kind(at: position), isSymbol("=", at: position + 1) {
            let valueStart = position + 2
            let valueEnd = expressionEnd(from: valueStart)
            define(name, as: evaluate(tokensIn: valueStart..<valueEnd), line: tokens[position].line)
            position = valueEnd
            guard isSymbol(",", at: position) else { break }
            position += 1
        }
        return position
    }

    private mutating func define(_ name: String, as value: Result<PHPValue, Unevaluable>, line: Int) {
        // PHP refuses to redefine a constant, so the first definition is the one in force.
        guard constants[name] == nil, failedConstants[name] == nil else { return }
        switch value {
        case .success(let value):
            constants[name] = value
            constantLines[name] = line
        case .failure(let reason):
            failedConstants[name] = (reason, line)
        }
    }

    private mutating func readAssignment(to name: String, operation: String, at index: Int) {
        let valueStart = index + 2
        let value = evaluate(tokensIn: valueStart..<expressionEnd(from: valueStart))
        let current = variables[name]
        let updated: Result<PHPValue, Unevaluable>
        switch operation {
        case "=":
            updated = value
        case ".=":
            switch (current, value) {
            case (.success(let left)?, .success(let right)):
                updated = .success(.string(left.phpStringValue + right.phpStringValue))
            case (.failure(let reason)?, _), (_, .failure(let reason)):
                updated = .failure(reason)
            case (nil, .success):
                updated = .failure(.unassignedVariable(name))
            }
        case "??=":
            switch current {
            case nil, .success(.null)?: updated = value
            case let current?: updated = current
            }
        default:
            updated = .failure(.unsupported("$\(name) is changed with the '\(operation)' operator"))
        }
        variables[name] = updated
        variableLines[name] = tokens[index].line
    }

    // MARK: Token navigation

    private func kind(at index: Int) -> PHPToken.Kind? {
        index >= 0 && index < tokens.count ? tokens[index].kind : nil
    }

    private func isSymbol(_ symbol: String, at index: Int) -> Bool {
        kind(at: index) == .symbol(symbol)
    }

    private func isIdentifier(at index: Int) -> Bool {
        if case .identifier? = kind(at: index) { return true }
        return false
    }

    /// Whether the token names a property, method or class member (`$x->define(`, `Foo::$bar`),
    /// not something of its own.
    private func isMemberName(at index: Int) -> Bool {
        guard case .symbol(let previous)? = kind(at: index - 1) else { return false }
        return previous == "->" || previous == "?->" || previous == "::" || previous == "$"
    }

    /// The token ranges of a call's arguments, from its opening parenthesis; `nil` if the call is
    /// never closed.
    private func argumentRanges(openingAt open: Int) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var depth = 0
        var argumentStart = open + 1
        var index = open + 1
        while index < tokens.count {
            switch tokens[index].kind {
            case .symbol("("), .symbol("["), .symbol("{"):
                depth += 1
            case .symbol(")") where depth == 0:
                if index > argumentStart { ranges.append(argumentStart..<index) }
                return ranges
            case .symbol(")"), .symbol("]"), .symbol("}"):
                depth -= 1
                if depth < 0 { return nil }
            case .symbol(",") where depth == 0:
                ranges.append(argumentStart..<index)
                argumentStart = index + 1
            case .symbol(";") where depth == 0:
                return nil
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// Where an expression starting at `start` ends: at a `;`, `,` or closing bracket that is not its own.
    private func expressionEnd(from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < tokens.count {
            switch tokens[index].kind {
            case .symbol("("), .symbol("["), .symbol("{"):
                depth += 1
            case .symbol(")"), .symbol("]"), .symbol("}"):
                if depth == 0 { return index }
                depth -= 1
            case .symbol(";") where depth == 0, .symbol(",") where depth == 0:
                return index
            case .identifier(let name) where depth == 0 && ["and", "or", "xor"].contains(name.lowercased()):
                // These bind more loosely than "=", so "$a = x or y;" assigns x.
                return index
            default:
                break
            }
            index += 1
        }
        return index
    }

    /// The index after the `{ ... }` body that follows a declaration keyword. A function without a
    /// body (`abstract function f();`) ends at its semicolon.
    private func indexAfterBody(from start: Int, stoppingAtSemicolon: Bool) -> Int {
        var parenthesisDepth = 0
        var index = start + 1
        while index < tokens.count {
            switch tokens[index].kind {
            case .symbol("("): parenthesisDepth += 1
            case .symbol(")"): parenthesisDepth -= 1
            case .symbol(";") where stoppingAtSemicolon && parenthesisDepth <= 0:
                return index + 1
            case .symbol("{") where parenthesisDepth <= 0:
                var depth = 0
                while index < tokens.count {
                    if tokens[index].kind == .symbol("{") { depth += 1 }
                    if tokens[index].kind == .symbol("}") {
                        depth -= 1
                        if depth == 0 { return index + 1 }
                    }
                    index += 1
                }
                return index
            default:
                break
            }
            index += 1
        }
        return index
    }

    // MARK: Evaluation

    private func evaluate(tokensIn range: Range<Int>) -> Result<PHPValue, Unevaluable> {
        evaluate(PHPExpressionParser.parse(tokens, range, path: path))
    }

    private func evaluate(_ expression: PHPExpression) -> Result<PHPValue, Unevaluable> {
        switch expression {
        case .literal(let value):
            return .success(value)
        case .unsupported(let explanation):
            return .failure(.unsupported(explanation))
        case .constant(let name):
            return constant(named: name)
        case .variable(let name):
            switch variables[name] {
            case .success(let value)?: return .success(value)
            case .failure(let reason)?: return .failure(reason.passedThrough(variable: name))
            case nil: return .failure(.unassignedVariable(name))
            }
        case .environment(let superglobal, let keyExpression):
            guard case .success(.string(let key)) = evaluate(keyExpression) else {
                return .failure(.unsupported("it reads $\(superglobal) with a key that is not plain text"))
            }
            if let value = environment[key] { return .success(.string(value)) }
            return .failure(.environmentNotSet(expression: "$\(superglobal)['\(key)']", variable: key, phpSeesNull: true))
        case .call(let function, let arguments):
            return call(function, arguments)
        case .concatenation(let left, let right):
            return evaluate(left).flatMap { left in
                evaluate(right).map { right in .string(left.phpStringValue + right.phpStringValue) }
            }
        case .shortTernary(let value, let fallback):
            let result = evaluate(value)
            return conditionValue(result).flatMap { $0.isTruthy ? result : evaluate(fallback) }
        case .coalesce(let value, let fallback):
            let result = evaluate(value)
            if case .success(.null) = conditionValue(result) { return evaluate(fallback) }
            return result
        case .ternary(let condition, let whenTrue, let whenFalse):
            return conditionValue(evaluate(condition)).flatMap { evaluate($0.isTruthy ? whenTrue : whenFalse) }
        case .not(let operand):
            return conditionValue(evaluate(operand)).map { .bool(!$0.isTruthy) }
        case .and(let left, let right):
            return conditionValue(evaluate(left)).flatMap { left in
                left.isTruthy ? conditionValue(evaluate(right)).map { .bool($0.isTruthy) } : .success(.bool(false))
            }
        case .or(let left, let right):
            return conditionValue(evaluate(left)).flatMap { left in
                left.isTruthy ? .success(.bool(true)) : conditionValue(evaluate(right)).map { .bool($0.isTruthy) }
            }
        case .identical(let left, let right, let negated):
            return conditionValue(evaluate(left)).flatMap { left in
                conditionValue(evaluate(right)).map { right in .bool((left == right) != negated) }
            }
        case .negation(let operand):
            return evaluate(operand).flatMap { value in
                switch value {
                case .int(let number):
                    let (negated, overflow) = (0 as Int).subtractingReportingOverflow(number)
                    return .success(overflow ? .double(-Double(number)) : .int(negated))
                case .double(let number):
                    return .success(.double(-number))
                default:
                    return .failure(.unsupported("it negates something that is not a number"))
                }
            }
        case .cast(let type, let operand):
            return cast(evaluate(operand), to: type)
        }
    }

    /// The value PHP tests in a condition or compares: an unset environment variable is `false`
    /// (from `getenv()`) or `null` (from `$_ENV`), an unassigned variable `null`.
    private func conditionValue(_ result: Result<PHPValue, Unevaluable>) -> Result<PHPValue, Unevaluable> {
        switch result {
        case .failure(.environmentNotSet(_, _, let phpSeesNull)): .success(phpSeesNull ? .null : .bool(false))
        case .failure(.unassignedVariable): .success(.null)
        default: result
        }
    }

    private func constant(named name: String) -> Result<PHPValue, Unevaluable> {
        if let value = constants[name] { return .success(value) }
        if let failure = failedConstants[name] { return .failure(failure.reason.passedThrough(constant: name)) }
        switch name {
        case "PHP_EOL": return .success(.string("\n"))
        case "DIRECTORY_SEPARATOR": return .success(.string("/"))
        case "PHP_INT_MAX": return .success(.int(Int.max))
        default: return .failure(.undefinedConstant(name))
        }
    }

    private func call(_ function: String, _ arguments: [PHPExpression]) -> Result<PHPValue, Unevaluable> {
        func text(_ expression: PHPExpression) -> String? {
            if case .success(.string(let value)) = evaluate(expression) { return value }
            return nil
        }
        switch function {
        case "getenv":
            guard (1...2).contains(arguments.count), let name = text(arguments[0]) else {
                return .failure(.unsupported("it calls getenv() without a plain variable name"))
            }
            if let value = environment[name] { return .success(.string(value)) }
            return .failure(.environmentNotSet(expression: "getenv('\(name)')", variable: name, phpSeesNull: false))
        case "getenv_docker":
            // The official Docker image's helper: a file named by NAME_FILE, else NAME, else the default.
            guard arguments.count == 2, let name = text(arguments[0]) else {
                return .failure(.unsupported("it calls getenv_docker() without a plain variable name and a default"))
            }
            if let file = environment[name + "_FILE"], PHPValue.string(file).isTruthy {
                guard let data = FileManager.default.contents(atPath: file) else {
                    return .failure(.unreadableSecretFile(variable: name + "_FILE", file: file))
                }
                var contents = String(decoding: data, as: UTF8.self)
                while let last = contents.unicodeScalars.last, last == "\n" || last == "\r" {
                    contents.unicodeScalars.removeLast()
                }
                return .success(.string(contents))
            }
            if let value = environment[name] { return .success(.string(value)) }
            return evaluate(arguments[1])
        case "defined":
            guard arguments.count == 1, let name = text(arguments[0]) else {
                return .failure(.unsupported("it calls defined() without a plain constant name"))
            }
            return .success(.bool(constants[name] != nil || failedConstants[name] != nil))
        case "constant":
            guard arguments.count == 1, let name = text(arguments[0]) else {
                return .failure(.unsupported("it calls constant() without a plain constant name"))
            }
            return constant(named: name)
        case "dirname":
            guard (1...2).contains(arguments.count), let directory = text(arguments[0]) else {
                return .failure(.unsupported("it calls dirname() on something that is not plain text"))
            }
            var levels = 1
            if arguments.count == 2 {
                guard case .success(.int(let count)) = evaluate(arguments[1]), count >= 1 else {
                    return .failure(.unsupported("it calls dirname() with a level that is not a positive number"))
                }
                levels = count
            }
            var result = directory
            for _ in 0..<min(levels, 1024) { result = phpDirname(result) }
            return .success(.string(result))
        default:
            return .failure(.unsupported("it calls \(function)()"))
        }
    }

    private func cast(_ result: Result<PHPValue, Unevaluable>, to type: String) -> Result<PHPValue, Unevaluable> {
        if type == "bool" { return conditionValue(result).map { .bool($0.isTruthy) } }
        return result.flatMap { value in
            switch (type, value) {
            case ("string", _):
                return .success(.string(value.phpStringValue))
            case ("int", .int), ("float", .double):
                return .success(value)
            case ("int", .double(let number)):
                guard let whole = Int(exactly: number.rounded(.towardZero)) else {
                    return .failure(.unsupported("it casts a float too large for an integer"))
                }
                return .success(.int(whole))
            case ("float", .int(let number)):
                return .success(.double(Double(number)))
            case (_, .bool(let flag)):
                return .success(type == "int" ? .int(flag ? 1 : 0) : .double(flag ? 1 : 0))
            case (_, .null):
                return .success(type == "int" ? .int(0) : .double(0))
            case (_, .string(let text)):
                let number = Self.leadingNumber(in: text)
                if type == "float" { return .success(.double(number)) }
                guard let whole = Int(exactly: number.rounded(.towardZero)) else {
                    return .failure(.unsupported("it casts text too large for an integer"))
                }
                return .success(.int(whole))
            default:
                return .failure(.unsupported("it uses a (\(type)) cast"))
            }
        }
    }

    /// The number at the start of a string, as PHP's numeric casts read it (`" 12abc"` is 12).
    private static func leadingNumber(in text: String) -> Double {
        let bytes = Array(text.utf8)
        var cursor = 0
        while cursor < bytes.count, [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(bytes[cursor]) { cursor += 1 }
        let start = cursor
        func skipDigits() { while cursor < bytes.count, WordPressConfigBytes.isDigit(bytes[cursor]) { cursor += 1 } }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
        let digitsStart = cursor
        skipDigits()
        var hasDigits = cursor > digitsStart
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ".") {
            let fractionStart = cursor + 1
            cursor = fractionStart
            skipDigits()
            hasDigits = hasDigits || cursor > fractionStart
        }
        guard hasDigits else { return 0 }
        let mantissaEnd = cursor
        if cursor < bytes.count, bytes[cursor] | 0x20 == UInt8(ascii: "e") {
            cursor += 1
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") { cursor += 1 }
            let exponentStart = cursor
            skipDigits()
            if cursor == exponentStart { cursor = mantissaEnd }
        }
        var number = String(decoding: bytes[start..<cursor], as: UTF8.self)
        number = number.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")
        if number.hasSuffix(".") { number += "0" }
        if number.hasPrefix(".") || number.hasPrefix("-.") || number.hasPrefix("+.") {
            number = number.replacingOccurrences(of: ".", with: "0.")
        }
        return Double(number) ?? 0
    }
}

/// PHP's `dirname()` for Unix paths.
fileprivate func phpDirname(_ path: String) -> String {
    var components = Substring(path)
    while components.count > 1, components.hasSuffix("/") { components.removeLast() }
    guard let slash = components.lastIndex(of: "/") else { return "." }
    var parent = components[..<slash]
    while parent.count > 1, parent.hasSuffix("/") { parent.removeLast() }
    return parent.isEmpty ? "/" : String(parent)
}

/// Why an expression has no value cloudchatd can know.
fileprivate indirect enum Unevaluable: Error, Equatable, Sendable {
    /// An environment variable is not set; PHP would see `false` from `getenv()` and `null` from `$_ENV`.
    case environmentNotSet(expression: String, variable: String, phpSeesNull: Bool)
    /// `getenv_docker()` was pointed at a secret file that cannot be read.
    case unreadableSecretFile(variable: String, file: String)
    case undefinedConstant(String)
    case unassignedVariable(String)
    case constantNotEvaluated(String, because: Unevaluable)
    case variableNotEvaluated(String, because: Unevaluable)
    /// A construct that is not evaluated, described by a clause such as "it calls foo()".
    case unsupported(String)

    /// Wraps the reason a constant had no value, except for environment problems, which are passed
    /// on unchanged because they are what the reader must fix, and PHP's value for them is known.
    func passedThrough(constant name: String) -> Unevaluable {
        switch self {
        case .environmentNotSet, .unreadableSecretFile: self
        default: .constantNotEvaluated(name, because: self)
        }
    }

    /// As `passedThrough(constant:)`, for a variable.
    func passedThrough(variable name: String) -> Unevaluable {
        switch self {
        case .environmentNotSet, .unreadableSecretFile: self
        default: .variableNotEvaluated(name, because: self)
        }
    }

    /// Plain words for the reason, naming things but never quoting a value.
    var explanation: String {
        switch self {
        case .environmentNotSet(let expression, _, _):
            "\(expression) is not set in cloudchatd's environment"
        case .unreadableSecretFile(let variable, let file):
            "\(variable) names a file cloudchatd cannot read (\(file))"
        case .undefinedConstant(let name):
            "it uses the constant \(name), which is not defined earlier in the file"
        case .unassignedVariable(let name):
            "it uses $\(name), which is not assigned earlier in the file"
        case .constantNotEvaluated(let name, let reason):
            "it uses the constant \(name), whose own value cloudchatd cannot evaluate: \(reason.explanation)"
        case .variableNotEvaluated(let name, let reason):
            "it uses $\(name), whose value cloudchatd cannot evaluate: \(reason.explanation)"
        case .unsupported(let explanation):
            explanation
        }
    }
}

// MARK: - Expressions

/// A PHP expression, as far as cloudchatd evaluates PHP.
fileprivate indirect enum PHPExpression: Equatable, Sendable {
    case literal(PHPValue)
    case constant(String)
    case variable(String)
    /// `$_ENV[key]` or `$_SERVER[key]`.
    case environment(superglobal: String, key: PHPExpression)
    /// A call to a function cloudchatd knows, by lowercase name.
    case call(String, [PHPExpression])
    case concatenation(PHPExpression, PHPExpression)
    /// `value ?: fallback`
    case shortTernary(PHPExpression, PHPExpression)
    /// `value ?? fallback`
    case coalesce(PHPExpression, PHPExpression)
    case ternary(PHPExpression, PHPExpression, PHPExpression)
    case not(PHPExpression)
    case and(PHPExpression, PHPExpression)
    case or(PHPExpression, PHPExpression)
    /// `===`, or `!==` when negated.
    case identical(PHPExpression, PHPExpression, negated: Bool)
    case negation(PHPExpression)
    /// `(string)`, `(int)`, `(bool)` or `(float)`, by those canonical names.
    case cast(String, PHPExpression)
    /// Something parsed but not evaluated, described by a clause such as "it calls foo()".
    case unsupported(String)
}

/// Parses the tokens of one expression by PHP's precedence rules, for the operators cloudchatd evaluates.
fileprivate struct PHPExpressionParser {
    private struct Failure: Error {
        var explanation: String
    }

    private static let knownFunctions: Set<String> = ["getenv", "getenv_docker", "defined", "constant", "dirname"]
    private static let casts: [String: String] = [
        "string": "string", "binary": "string", "int": "int", "integer": "int",
        "bool": "bool", "boolean": "bool", "float": "float", "double": "float", "real": "float",
        "array": "array", "object": "object", "unset": "unset",
    ]
    private static let keywords: Set<String> = [
        "new", "clone", "match", "fn", "function", "include", "include_once", "require", "require_once",
        "print", "yield", "throw", "static", "instanceof", "and", "or", "xor",
    ]

    private let tokens: [PHPToken]
    private let end: Int
    private let path: String
    private var position: Int

    /// Parses the expression in `range`; anything left over or not understood yields `.unsupported`.
    static func parse(_ tokens: [PHPToken], _ range: Range<Int>, path: String) -> PHPExpression {
        guard !range.isEmpty else { return .unsupported("the value is missing") }
        var parser = PHPExpressionParser(tokens: tokens, end: range.upperBound, path: path, position: range.lowerBound)
        do {
            let expression = try parser.parseExpression()
            if parser.position < parser.end {
                return .unsupported(Self.describeUnexpected(tokens[parser.position]))
            }
            return expression
        } catch {
            return .unsupported(error.explanation)
        }
    }

    private init(tokens: [PHPToken], end: Int, path: String, position: Int) {
        self.tokens = tokens
        self.end = end
        self.path = path
        self.position = position
    }

    private static func describeUnexpected(_ token: PHPToken) -> String {
        switch token.kind {
        case .symbol(let symbol): "it uses '\(symbol)'"
        case .identifier(let name): "it uses '\(name)'"
        case .variable(let name): "it has $\(name) where an operator belongs"
        case .string, .interpolatedString, .shellCommand: "it has a string where an operator belongs"
        case .integer, .float: "it has a number where an operator belongs"
        }
    }

    private var current: PHPToken.Kind? {
        position < end ? tokens[position].kind : nil
    }

    private func isSymbol(_ symbol: String, offset: Int = 0) -> Bool {
        position + offset < end && tokens[position + offset].kind == .symbol(symbol)
    }

    private mutating func expect(_ symbol: String) throws(Failure) {
        guard isSymbol(symbol) else {
            throw Failure(explanation: current.map { _ in Self.describeUnexpected(tokens[position]) } ?? "it is cut short")
        }
        position += 1
    }

    private mutating func parseExpression() throws(Failure) -> PHPExpression {
        var condition = try parseCoalesce()
        while isSymbol("?") {
            position += 1
            if isSymbol(":") {
                position += 1
                condition = .shortTernary(condition, try parseCoalesce())
            } else {
                let whenTrue = try parseExpression()
                try expect(":")
                condition = .ternary(condition, whenTrue, try parseCoalesce())
            }
        }
        return condition
    }

    private mutating func parseCoalesce() throws(Failure) -> PHPExpression {
        let value = try parseOr()
        guard isSymbol("??") else { return value }
        position += 1
        return .coalesce(value, try parseCoalesce())
    }

    private mutating func parseOr() throws(Failure) -> PHPExpression {
        var left = try parseAnd()
        while isSymbol("||") {
            position += 1
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(Failure) -> PHPExpression {
        var left = try parseIdentity()
        while isSymbol("&&") {
            position += 1
            left = .and(left, try parseIdentity())
        }
        return left
    }

    private mutating func parseIdentity() throws(Failure) -> PHPExpression {
        let left = try parseConcatenation()
        for (symbol, negated) in [("===", false), ("!==", true)] where isSymbol(symbol) {
            position += 1
            return .identical(left, try parseConcatenation(), negated: negated)
        }
        return left
    }

    private mutating func parseConcatenation() throws(Failure) -> PHPExpression {
        var left = try parseUnary()
        while isSymbol(".") {
            position += 1
            left = .concatenation(left, try parseUnary())
        }
        return left
    }

    private mutating func parseUnary() throws(Failure) -> PHPExpression {
        switch current {
        case .symbol("!")?:
            position += 1
            return .not(try parseUnary())
        case .symbol("-")?:
            position += 1
            return .negation(try parseUnary())
        case .symbol("+")?, .symbol("@")?:
            // Unary plus leaves a number as it is; "@" only silences warnings.
            position += 1
            return try parseUnary()
        case .symbol("(")?:
            if position + 2 < end, case .identifier(let name) = tokens[position + 1].kind,
               tokens[position + 2].kind == .symbol(")"), let type = Self.casts[name.lowercased()] {
                position += 3
                let operand = try parseUnary()
                return ["string", "int", "bool", "float"].contains(type)
                    ? .cast(type, operand)
                    : .unsupported("it uses a (\(type)) cast")
            }
            return try parsePrimary()
        default:
            return try parsePrimary()
        }
    }

    private mutating func parsePrimary() throws(Failure) -> PHPExpression {
        guard let kind = current else { throw Failure(explanation: "it is cut short") }
        let line = tokens[position].line
        position += 1
        switch kind {
        case .string(let text):
            return .literal(.string(text))
        case .integer(let number):
            return .literal(.int(number))
        case .float(let number):
            return .literal(.double(number))
        case .interpolatedString:
            return .unsupported("it has a string with variables inside it")
        case .shellCommand:
            return .unsupported("it runs a shell command")
        case .symbol("("):
            let inner = try parseExpression()
            try expect(")")
            return inner
        case .symbol("["):
            position -= 1
            try skipBalanced()
            return .unsupported("it is an array")
        case .symbol(let symbol):
            throw Failure(explanation: "it has '\(symbol)' where a value belongs")
        case .variable(let name):
            return try parseVariable(name)
        case .identifier(let name):
            return try parseName(name, line: line)
        }
    }

    private mutating func parseVariable(_ name: String) throws(Failure) -> PHPExpression {
        guard isSymbol("[") else { return .variable(name) }
        switch name {
        case "_ENV", "_SERVER":
            position += 1
            let key = try parseExpression()
            try expect("]")
            return .environment(superglobal: name, key: key)
        case "GLOBALS":
            position += 1
            let key = try parseExpression()
            try expect("]")
            guard case .literal(.string(let variable)) = key else {
                return .unsupported("it reads $GLOBALS with a key that is not plain text")
            }
            return .variable(variable)
        default:
            try skipBalanced()
            return .unsupported("it reads an element of the array $\(name)")
        }
    }

    private mutating func parseName(_ name: String, line: Int) throws(Failure) -> PHPExpression {
        let lowercased = name.lowercased()
        switch lowercased {
        case "true": return .literal(.bool(true))
        case "false": return .literal(.bool(false))
        case "null": return .literal(.null)
        case "__line__": return .literal(.int(line))
        case "__file__", "__dir__":
            // Relative paths would depend on PHP's working directory, which cloudchatd cannot know.
            guard path.hasPrefix("/") else { return .unsupported("it uses \(name) and the file's path is not absolute") }
            return .literal(.string(lowercased == "__file__" ? path : phpDirname(path)))
        default:
            break
        }
        if Self.keywords.contains(lowercased) {
            throw Failure(explanation: "it uses '\(lowercased)'")
        }
        if isSymbol("(") {
            guard Self.knownFunctions.contains(lowercased) else {
                try skipBalanced()
                return .unsupported("it calls \(name)()")
            }
            return .call(lowercased, try parseArguments())
        }
        if isSymbol("::") {
            throw Failure(explanation: "it uses a class constant of \(name)")
        }
        return .constant(name)
    }

    private mutating func parseArguments() throws(Failure) -> [PHPExpression] {
        try expect("(")
        var arguments: [PHPExpression] = []
        while !isSymbol(")") {
            arguments.append(try parseExpression())
            guard isSymbol(",") else { break }
            position += 1
        }
        try expect(")")
        return arguments
    }

    /// Skips from an opening bracket past its closing one.
    private mutating func skipBalanced() throws(Failure) {
        var depth = 0
        while position < end {
            switch tokens[position].kind {
            case .symbol("("), .symbol("["), .symbol("{"):
                depth += 1
            case .symbol(")"), .symbol("]"), .symbol("}"):
                depth -= 1
                if depth == 0 {
                    position += 1
                    return
                }
            default:
                break
            }
            position += 1
        }
        throw Failure(explanation: "its brackets do not match")
    }
}

// MARK: - Tokens

/// One PHP token, as finely as reading wp-config.php needs to tell tokens apart.
struct PHPToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// A name or keyword; a leading namespace separator is dropped.
        case identifier(String)
        /// A variable, without its `$`.
        case variable(String)
        /// A string literal whose value is known.
        case string(String)
        /// A double-quoted string or heredoc with variables in it.
        case interpolatedString
        /// A backtick shell command.
        case shellCommand
        case integer(Int)
        case float(Double)
        /// An operator or punctuation; a closing `?>` tag arrives as `;`, which is what PHP makes of it.
        case symbol(String)
    }

    var kind: Kind
    /// The 1-based line the token starts on.
    var line: Int
}

/// A place the tokenizer cannot get past.
struct PHPSyntaxError: Error, Equatable {
    var line: Int
    var message: String
}

/// Splits PHP source into tokens, skipping inline HTML and comments.
struct PHPTokenizer {
    private static let symbols: [[UInt8]] = [
        "===", "!==", "<=>", "**=", "...", "<<=", ">>=", "??=", "?->",
        "==", "!=", "<>", "<=", ">=", "&&", "||", "??", "->", "=>", "::", "++", "--",
        "+=", "-=", "*=", "/=", ".=", "%=", "&=", "|=", "^=", "<<", ">>", "**",
    ].map { Array($0.utf8) }

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var tokens: [PHPToken] = []

    /// The tokens of `source`, in order.
    static func tokenize(_ source: [UInt8]) throws(PHPSyntaxError) -> [PHPToken] {
        var tokenizer = PHPTokenizer(bytes: source)
        try tokenizer.run()
        return tokenizer.tokens
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func byte(at offset: Int) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private static func isIdentifierStart(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return WordPressConfigBytes.isLetter(byte) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    private static func isIdentifierPart(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return isIdentifierStart(byte) || WordPressConfigBytes.isDigit(byte)
    }

    private mutating func emit(_ kind: PHPToken.Kind, line: Int) {
        tokens.append(PHPToken(kind: kind, line: line))
    }

    private mutating func run() throws(PHPSyntaxError) {
        // Text with no open tag at all is read as code, so that fragments of a config parse too.
        let hasOpenTag = bytes.indices.contains { bytes[$0] == UInt8(ascii: "<") && $0 + 1 < bytes.count && bytes[$0 + 1] == UInt8(ascii: "?") }
        if hasOpenTag { skipInlineHTML() }
        while let current = byte(at: 0) {
            switch current {
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                index += 1
            case UInt8(ascii: "#") where byte(at: 1) != UInt8(ascii: "["):
                skipLineComment()
            case UInt8(ascii: "/") where byte(at: 1) == UInt8(ascii: "/"):
                skipLineComment()
            case UInt8(ascii: "/") where byte(at: 1) == UInt8(ascii: "*"):
                try skipBlockComment()
            case UInt8(ascii: "?") where byte(at: 1) == UInt8(ascii: ">"):
                emit(.symbol(";"), line: line)
                index += 2
                skipInlineHTML()
            case UInt8(ascii: "'"):
                try readSingleQuoted()
            case UInt8(ascii: "\""), UInt8(ascii: "`"):
                try readDoubleQuoted()
            case UInt8(ascii: "$") where Self.isIdentifierStart(byte(at: 1)):
                index += 1
                let name = readName()
                emit(.variable(name), line: line)
            case UInt8(ascii: "<") where byte(at: 1) == UInt8(ascii: "<") && byte(at: 2) == UInt8(ascii: "<"):
                try readHeredoc()
            case UInt8(ascii: "\\") where Self.isIdentifierStart(byte(at: 1)):
                index += 1
                let name = readName()
                emit(.identifier(name), line: line)
            case UInt8(ascii: ".") where byte(at: 1).map(WordPressConfigBytes.isDigit) == true:
                readNumber()
            case _ where WordPressConfigBytes.isDigit(current):
                readNumber()
            case _ where Self.isIdentifierStart(current):
                let name = readName()
                emit(.identifier(name), line: line)
            default:
                readSymbol()
            }
        }
    }

    /// Skips text outside `<?php ... ?>` up to and past the next open tag.
    private mutating func skipInlineHTML() {
        while let current = byte(at: 0) {
            if current == UInt8(ascii: "<") && byte(at: 1) == UInt8(ascii: "?") {
                index += 2
                let php = Array("php".utf8)
                if index + 3 <= bytes.count, bytes[index..<(index + 3)].map({ $0 | 0x20 }) == php {
                    index += 3
                } else if byte(at: 0) == UInt8(ascii: "=") {
                    index += 1
                }
                return
            }
            if current == UInt8(ascii: "\n") { line += 1 }
            index += 1
        }
    }

    /// Skips a `//` or `#` comment, which ends at the line's end or at a `?>` tag.
    private mutating func skipLineComment() {
        while let current = byte(at: 0) {
            if current == UInt8(ascii: "\n") || current == UInt8(ascii: "\r") { return }
            if current == UInt8(ascii: "?") && byte(at: 1) == UInt8(ascii: ">") { return }
            index += 1
        }
    }

    private mutating func skipBlockComment() throws(PHPSyntaxError) {
        let startLine = line
        index += 2
        while let current = byte(at: 0) {
            if current == UInt8(ascii: "*") && byte(at: 1) == UInt8(ascii: "/") {
                index += 2
                return
            }
            if current == UInt8(ascii: "\n") { line += 1 }
            index += 1
        }
        throw PHPSyntaxError(
            line: startLine,
            message: "the /* comment that starts on this line is never closed with */; close it, or remove it"
        )
    }

    private func unterminatedString(from startLine: Int) -> PHPSyntaxError {
        PHPSyntaxError(
            line: startLine,
            message: "the string that starts on this line is never closed; check the quotes on this line and the lines above it "
                + "(a quote inside a string needs a backslash before it)"
        )
    }

    private mutating func readSingleQuoted() throws(PHPSyntaxError) {
        let startLine = line
        var value: [UInt8] = []
        index += 1
        while let current = byte(at: 0) {
            if current == UInt8(ascii: "\\"), let next = byte(at: 1), next == UInt8(ascii: "'") || next == UInt8(ascii: "\\") {
                value.append(next)
                index += 2
                continue
            }
            index += 1
            if current == UInt8(ascii: "'") {
                emit(.string(String(decoding: value, as: UTF8.self)), line: startLine)
                return
            }
            if current == UInt8(ascii: "\n") { line += 1 }
            value.append(current)
        }
        throw unterminatedString(from: startLine)
    }

    /// Reads a `"..."` string or a `` `...` `` command.
    private mutating func readDoubleQuoted() throws(PHPSyntaxError) {
        let startLine = line
        let quote = bytes[index]
        let bodyStart = index + 1
        var cursor = bodyStart
        var isInterpolated = false
        while cursor < bytes.count, bytes[cursor] != quote {
            let current = bytes[cursor]
            if current == UInt8(ascii: "\\") {
                cursor += 2
                continue
            }
            let next = cursor + 1 < bytes.count ? bytes[cursor + 1] : nil
            if current == UInt8(ascii: "{") && next == UInt8(ascii: "$") {
                // "{$a['k']}" may hold quotes of its own, so it is skipped as a unit.
                isInterpolated = true
                cursor = Self.indexAfterInterpolation(in: bytes, from: cursor)
                continue
            }
            if current == UInt8(ascii: "$") && (Self.isIdentifierStart(next) || next == UInt8(ascii: "{")) {
                isInterpolated = true
            }
            cursor += 1
        }
        guard cursor < bytes.count else { throw unterminatedString(from: startLine) }
        let body = bytes[bodyStart..<cursor]
        line += body.count(where: { $0 == UInt8(ascii: "\n") })
        index = cursor + 1
        if quote == UInt8(ascii: "`") {
            emit(.shellCommand, line: startLine)
        } else if isInterpolated {
            emit(.interpolatedString, line: startLine)
        } else {
            emit(.string(Self.unescape(body, quote: quote)), line: startLine)
        }
    }

    private static func indexAfterInterpolation(in bytes: [UInt8], from start: Int) -> Int {
        var depth = 0
        var cursor = start
        while cursor < bytes.count {
            switch bytes[cursor] {
            case UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return cursor + 1 }
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                let quote = bytes[cursor]
                cursor += 1
                while cursor < bytes.count, bytes[cursor] != quote {
                    cursor += bytes[cursor] == UInt8(ascii: "\\") ? 2 : 1
                }
            default:
                break
            }
            cursor += 1
        }
        return cursor
    }

    private static func hasInterpolation(_ body: ArraySlice<UInt8>) -> Bool {
        var cursor = body.startIndex
        while cursor < body.endIndex {
            let current = body[cursor]
            let next = cursor + 1 < body.endIndex ? body[cursor + 1] : nil
            if current == UInt8(ascii: "\\") {
                cursor += 2
                continue
            }
            if current == UInt8(ascii: "$") && (isIdentifierStart(next) || next == UInt8(ascii: "{")) { return true }
            if current == UInt8(ascii: "{") && next == UInt8(ascii: "$") { return true }
            cursor += 1
        }
        return false
    }

    /// Applies PHP's double-quoted escapes. `quote` is the delimiter a backslash may escape; for a
    /// heredoc there is none, so `\"` stays as written, as in PHP.
    private static func unescape(_ body: ArraySlice<UInt8>, quote: UInt8?) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(body.count)
        var cursor = body.startIndex
        func isOctal(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) }
        while cursor < body.endIndex {
            let current = body[cursor]
            guard current == UInt8(ascii: "\\"), cursor + 1 < body.endIndex else {
                output.append(current)
                cursor += 1
                continue
            }
            let escaped = body[cursor + 1]
            switch escaped {
            case UInt8(ascii: "n"): output.append(0x0A); cursor += 2
            case UInt8(ascii: "t"): output.append(0x09); cursor += 2
            case UInt8(ascii: "r"): output.append(0x0D); cursor += 2
            case UInt8(ascii: "v"): output.append(0x0B); cursor += 2
            case UInt8(ascii: "e"): output.append(0x1B); cursor += 2
            case UInt8(ascii: "f"): output.append(0x0C); cursor += 2
            case UInt8(ascii: "\\"), UInt8(ascii: "$"): output.append(escaped); cursor += 2
            case _ where escaped == quote: output.append(escaped); cursor += 2
            case _ where isOctal(escaped):
                var value = 0
                var digitEnd = cursor + 1
                while digitEnd < body.endIndex, digitEnd < cursor + 4, isOctal(body[digitEnd]) {
                    value = value * 8 + Int(body[digitEnd] - UInt8(ascii: "0"))
                    digitEnd += 1
                }
                output.append(UInt8(value & 0xFF))
                cursor = digitEnd
            case UInt8(ascii: "x") where cursor + 2 < body.endIndex && WordPressConfigBytes.isHexDigit(body[cursor + 2]):
                var digitEnd = cursor + 2
                while digitEnd < body.endIndex, digitEnd < cursor + 4, WordPressConfigBytes.isHexDigit(body[digitEnd]) { digitEnd += 1 }
                output.append(UInt8(String(decoding: body[(cursor + 2)..<digitEnd], as: UTF8.self), radix: 16) ?? 0)
                cursor = digitEnd
            case UInt8(ascii: "u") where cursor + 2 < body.endIndex && body[cursor + 2] == UInt8(ascii: "{"):
                let digitsStart = cursor + 3
                var digitEnd = digitsStart
                while digitEnd < body.endIndex, WordPressConfigBytes.isHexDigit(body[digitEnd]) { digitEnd += 1 }
                if digitEnd < body.endIndex, body[digitEnd] == UInt8(ascii: "}"),
                   let code = UInt32(String(decoding: body[digitsStart..<digitEnd], as: UTF8.self), radix: 16),
                   let scalar = Unicode.Scalar(code) {
                    output.append(contentsOf: Array(String(Character(scalar)).utf8))
                    cursor = digitEnd + 1
                } else {
                    output.append(current)
                    cursor += 1
                }
            default:
                // PHP keeps the backslash of an escape it does not know.
                output.append(current)
                cursor += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Reads a `<<<LABEL` heredoc or `<<<'LABEL'` nowdoc; `<<<` that starts neither is a symbol.
    private mutating func readHeredoc() throws(PHPSyntaxError) {
        let startLine = line
        var cursor = index + 3
        while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") || bytes[cursor] == UInt8(ascii: "\t") { cursor += 1 }
        var quote: UInt8?
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "'") || bytes[cursor] == UInt8(ascii: "\"") {
            quote = bytes[cursor]
            cursor += 1
        }
        let labelStart = cursor
        guard cursor < bytes.count, Self.isIdentifierStart(bytes[cursor]) else { return readSymbol() }
        while cursor < bytes.count, Self.isIdentifierPart(bytes[cursor]) { cursor += 1 }
        let label = Array(bytes[labelStart..<cursor])
        if let quote {
            guard cursor < bytes.count, bytes[cursor] == quote else { return readSymbol() }
            cursor += 1
        }
        if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\r") { cursor += 1 }
        guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\n") else { return readSymbol() }
        cursor += 1
        line += 1

        let bodyStart = cursor
        var lineStart = cursor
        while lineStart <= bytes.count {
            var markerStart = lineStart
            while markerStart < bytes.count, bytes[markerStart] == UInt8(ascii: " ") || bytes[markerStart] == UInt8(ascii: "\t") {
                markerStart += 1
            }
            let markerEnd = markerStart + label.count
            if markerEnd <= bytes.count, Array(bytes[markerStart..<markerEnd]) == label,
               !Self.isIdentifierPart(markerEnd < bytes.count ? bytes[markerEnd] : nil) {
                // The newline before the closing label is not part of the text.
                var bodyEnd = max(bodyStart, lineStart - 1)
                if bodyEnd > bodyStart, bytes[bodyEnd - 1] == UInt8(ascii: "\r") { bodyEnd -= 1 }
                let body = Self.removingIndentation(markerStart - lineStart, from: bytes[bodyStart..<bodyEnd])
                index = markerEnd
                if quote == UInt8(ascii: "'") {
                    emit(.string(String(decoding: body, as: UTF8.self)), line: startLine)
                } else if Self.hasInterpolation(body[...]) {
                    emit(.interpolatedString, line: startLine)
                } else {
                    emit(.string(Self.unescape(body[...], quote: nil)), line: startLine)
                }
                return
            }
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            line += 1
            lineStart = newline + 1
        }
        throw PHPSyntaxError(
            line: startLine,
            message: "the heredoc <<<\(String(decoding: label, as: UTF8.self)) that starts on this line is never closed; "
                + "end it with a line holding just \(String(decoding: label, as: UTF8.self))"
        )
    }

    /// Removes the closing label's indentation from every line of a heredoc, as PHP 7.3 and later do.
    private static func removingIndentation(_ width: Int, from body: ArraySlice<UInt8>) -> [UInt8] {
        guard width > 0 else { return Array(body) }
        var output: [UInt8] = []
        var removable = width
        for byte in body {
            if removable > 0 && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) {
                removable -= 1
                continue
            }
            removable = byte == UInt8(ascii: "\n") ? width : 0
            output.append(byte)
        }
        return output
    }

    private mutating func readName() -> String {
        let start = index
        while let current = byte(at: 0) {
            if Self.isIdentifierPart(current) {
                index += 1
            } else if current == UInt8(ascii: "\\") && Self.isIdentifierStart(byte(at: 1)) {
                index += 1
            } else {
                break
            }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Reads an integer (decimal, `0x`, `0b`, `0o` or leading-zero octal, with `_` separators) or a float.
    private mutating func readNumber() {
        let startLine = line
        let start = index
        func digits(while isDigit: (UInt8) -> Bool) {
            while let current = byte(at: 0), isDigit(current) || current == UInt8(ascii: "_") { index += 1 }
        }
        func text(_ range: Range<Int>) -> String {
            String(decoding: bytes[range].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        }

        if bytes[index] == UInt8(ascii: "0"), let marker = byte(at: 1).map({ $0 | 0x20 }),
           let radix = [UInt8(ascii: "x"): 16, UInt8(ascii: "b"): 2, UInt8(ascii: "o"): 8][marker] {
            index += 2
            let digitsStart = index
            digits(while: { Int(String(UnicodeScalar($0)), radix: radix) != nil })
            let digitText = text(digitsStart..<index)
            if let value = Int(digitText, radix: radix) {
                emit(.integer(value), line: startLine)
            } else {
                // Too large for an integer: PHP makes it a float.
                let value = digitText.reduce(0.0) { $0 * Double(radix) + Double(Int(String($1), radix: radix) ?? 0) }
                emit(.float(value), line: startLine)
            }
            return
        }

        digits(while: WordPressConfigBytes.isDigit)
        var isFloat = false
        if byte(at: 0) == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            digits(while: WordPressConfigBytes.isDigit)
        }
        if let marker = byte(at: 0), marker | 0x20 == UInt8(ascii: "e") {
            let sign = byte(at: 1) == UInt8(ascii: "+") || byte(at: 1) == UInt8(ascii: "-") ? 1 : 0
            if let first = byte(at: 1 + sign), WordPressConfigBytes.isDigit(first) {
                isFloat = true
                index += 1 + sign
                digits(while: WordPressConfigBytes.isDigit)
            }
        }
        var numberText = text(start..<index)
        if isFloat {
            if numberText.hasPrefix(".") { numberText = "0" + numberText }
            numberText = numberText.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")
            if numberText.hasSuffix(".") { numberText += "0" }
            emit(.float(Double(numberText) ?? 0), line: startLine)
        } else if numberText.count > 1, numberText.hasPrefix("0"), let octal = Int(numberText.dropFirst(), radix: 8) {
            emit(.integer(octal), line: startLine)
        } else if let value = Int(numberText) {
            emit(.integer(value), line: startLine)
        } else {
            emit(.float(Double(numberText) ?? .infinity), line: startLine)
        }
    }

    private mutating func readSymbol() {
        for symbol in Self.symbols where index + symbol.count <= bytes.count && bytes[index..<(index + symbol.count)].elementsEqual(symbol) {
            emit(.symbol(String(decoding: symbol, as: UTF8.self)), line: line)
            index += symbol.count
            return
        }
        // "#[" opens a PHP 8 attribute; it is kept whole so it is not read as a comment.
        let width = bytes[index] == UInt8(ascii: "#") ? 2 : 1
        emit(.symbol(String(decoding: bytes[index..<(index + width)], as: UTF8.self)), line: line)
        index += width
    }
}
