/// A `WWW-Authenticate` challenge (RFC 7235): `Basic realm="…"` or
/// `Bearer realm="https://auth/token",service="registry",scope="repository:app:pull"`.
struct AuthChallenge: Equatable, Sendable {
    /// Lowercased: `basic` or `bearer`.
    var scheme: String
    var parameters: [String: String]

    init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    init?(header: String) {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard let space = text.firstIndex(of: " ") ?? (text.isEmpty ? nil : text.endIndex) else { return nil }
        scheme = text[..<space].lowercased()
        parameters = Self.parameters(String(text[space...]))
    }

    /// `key=value` or `key="quoted, value"` pairs separated by commas.
    private static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var characters = Substring(text)
        while true {
            characters = characters.drop { $0 == " " || $0 == "," }
            guard let equals = characters.firstIndex(of: "=") else { return result }
            let key = characters[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            characters = characters[characters.index(after: equals)...]
            var value = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var escaped = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if escaped { value.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { break }
                    value.append(character)
                }
            } else {
                let end = characters.firstIndex(of: ",") ?? characters.endIndex
                value = characters[..<end].trimmingCharacters(in: .whitespaces)
                characters = characters[end...]
            }
            result[key] = value
        }
    }
}

import Foundation
