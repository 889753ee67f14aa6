//! Tokens of the Python-expression subset used in section conditions.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Name(String),
    Str(String),
    Int(i64),
    Op(&'static str),
}

const OPERATORS: [&str; 21] = [
    "**", "==", "!=", "<=", ">=", "//", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-", "*", "%", "/", "~", ":",
];

pub(super) fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Name(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                i += 1;
            }
            let digits: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            out.push(Token::Int(digits.parse().map_err(|_| format!("number too large: {digits}"))?));
        } else if c == '\'' || c == '"' {
            let (text, next) = string_literal(&chars, i)?;
            out.push(Token::Str(text));
            i = next;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPERATORS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| format!("unsupported character {c:?}"))?;
            out.push(Token::Op(op));
            i += op.chars().count();
        }
    }
    Ok(out)
}

fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = chars[start];
    let mut i = start + 1;
    let mut text = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((text, i + 1));
        }
        if c == '\\' && i + 1 < chars.len() {
            i += 1;
            match chars[i] {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                'r' => text.push('\r'),
                '0' => text.push('\0'),
                'x' if i + 2 < chars.len() => {
                    let hex: String = chars[i + 1..i + 3].iter().collect();
                    let code = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
                    text.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    i += 2;
                }
                other => text.push(other),
            }
        } else {
            text.push(c);
        }
        i += 1;
    }
    Err("unterminated string literal".into())
}
