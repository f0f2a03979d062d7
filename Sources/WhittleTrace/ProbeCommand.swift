/// A `--probe-exec` command, given as one string on the command line.
public enum ProbeCommand {
    /// Splits a `--probe-exec` command into words as a shell would for plain words and
    /// quotes: whitespace separates, '…' keeps everything, "…" keeps all but \" and \\,
    /// and a backslash outside quotes escapes the next character. Nothing is expanded.
    /// Nil when a quote is left open.
    public static func words(_ command: String) -> [String]? {
        let characters = Array(command)
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var index = 0
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            index += 1
            switch quote {
            case "'":
                if character == "'" { quote = nil } else { current.append(character) }
            case "\"":
                if character == "\"" {
                    quote = nil
                } else if character == "\\", let next, next == "\"" || next == "\\" {
                    current.append(next)
                    index += 1
                } else {
                    current.append(character)
                }
            default:
                if character.isWhitespace {
                    if inWord { words.append(current) }
                    current = ""
                    inWord = false
                    continue
                }
                inWord = true
                if character == "'" || character == "\"" {
                    quote = character
                } else if character == "\\", let next {
                    current.append(next)
                    index += 1
                } else {
                    current.append(character)
                }
            }
        }
        if quote != nil { return nil }
        if inWord { words.append(current) }
        return words
    }
}
