//! Buildout's line-oriented INI dialect: one file's text to ordered sections of raw
//! option values, each with the line it started on. No substitution happens here.
//!
//! This is a port of `zc/buildout/configparser.py`, not rust-ini: Buildout's dialect
//! differs from INI in ways rust-ini cannot express. Comments count only in column 0
//! (`x = a # b` keeps `# b`); `:` is not a separator; `x += v` / `x -= v` keep their
//! operator in the key so the merge can apply them; a value with no data on its first
//! line is dedented as a block while one with data has each line stripped; headers
//! carry conditions (`[name:expr]`); and every bad line of a file is collected into
//! one error instead of stopping at the first.

use indexmap::IndexMap;

use super::error::{BadLine, ConfigError, ConfigErrorKind};

/// A raw option value and the 1-based line where its option started.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedValue {
    pub value: String,
    pub line: usize,
}

pub type ParsedSection = IndexMap<String, ParsedValue>;
pub type ParsedFile = IndexMap<String, ParsedSection>;

/// Python's `str.isspace` for one character (Unicode whitespace plus the
/// information separators `\x1c`-`\x1f`, which Python also counts).
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// A section header: `[name]` or `[name:expression]`, with an optional trailing
/// `#`/`;` comment. Mirrors Buildout's `section_header` regular expression.
struct Header<'a> {
    name: &'a str,
    expression: Option<&'a str>,
}

fn is_section_name_char(c: char) -> bool {
    !is_py_space(c) && !"#[]:;{}".contains(c)
}

/// Whether `name` can be written as a section header and read back as itself
/// (`[a:b]` would read as section `a` with a condition).
pub fn is_section_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| is_section_name_char(c) && !c.is_control())
}

fn parse_header(line: &str) -> Option<Header<'_>> {
    let rest = line.strip_prefix('[')?;
    let body = rest.trim_start_matches(is_py_space);
    let name_len: usize = body.chars().take_while(|&c| is_section_name_char(c)).map(char::len_utf8).sum();
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    let after = body[name_len..].trim_start_matches(is_py_space);
    // The closing `]` must be followed only by whitespace and an optional comment.
    let tail_ok = |s: &str| {
        let s = s.trim_start_matches(is_py_space);
        s.is_empty() || s.starts_with('#') || s.starts_with(';')
    };
    if let Some(expr_and_tail) = after.strip_prefix(':') {
        // The expression cannot contain `#` or `;`; it ends at the last `]` before them.
        let end = expr_and_tail.find(['#', ';']).unwrap_or(expr_and_tail.len());
        let region = py_rstrip(&expr_and_tail[..end]);
        let expression = region.strip_suffix(']')?;
        tail_ok(&expr_and_tail[region.len()..]).then_some(Header {
            name,
            expression: Some(expression),
        })
    } else {
        let tail = after.strip_prefix(']')?;
        tail_ok(tail).then_some(Header { name, expression: None })
    }
}

/// An option line: `name = value`, `name += value`, `name -= value`. Returns the key
/// (operator kept, as Buildout stores it: `x +` or `x+`) and the unstripped value.
fn parse_option(line: &str) -> Option<(&str, &str)> {
    let name_len: usize = line
        .chars()
        .take_while(|&c| !is_py_space(c) && !"{}[]=:".contains(c))
        .map(char::len_utf8)
        .sum();
    if name_len == 0 {
        return None;
    }
    let after_name = &line[name_len..];
    let ws = after_name.len() - after_name.trim_start_matches(is_py_space).len();
    let mut pos = name_len + ws;
    let bytes = line.as_bytes();
    if pos < bytes.len() && (bytes[pos] == b'+' || bytes[pos] == b'-') {
        pos += 1;
    }
    if pos < bytes.len() && bytes[pos] == b'=' {
        Some((py_rstrip(&line[..pos]), &line[pos + 1..]))
    } else if name_len + ws < bytes.len() && bytes[name_len + ws] == b'=' {
        Some((py_rstrip(&line[..name_len + ws]), &line[name_len + ws + 1..]))
    } else {
        None
    }
}

/// Evaluates a section condition; `Err` carries a message for the user.
pub type ConditionFn<'a> = dyn FnMut(&str) -> Result<bool, String> + 'a;

/// Parses one file. `file` names it in errors; `condition` decides `[name:expr]`.
pub fn parse(text: &str, file: &str, condition: &mut ConditionFn<'_>) -> Result<ParsedFile, ConfigError> {
    let mut sections: ParsedFile = IndexMap::new();
    let mut section_enabled = true;
    let mut current: Option<String> = None;
    let mut option: Option<String> = None;
    let mut block_mode = false;
    let mut bad_lines = Vec::new();

    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        &normalized
    } else {
        text
    };

    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let lineno = index + 1;
        let line = raw_line.strip_suffix('\n').unwrap_or(raw_line);
        let first = raw_line.chars().next().unwrap_or('\n');
        if first == '#' || first == ';' {
            continue;
        }
        if is_py_space(first) && current.is_some() && option.is_some() {
            if !section_enabled {
                continue;
            }
            let piece = if block_mode { py_rstrip(line) } else { py_strip(line) };
            if !block_mode && piece.is_empty() {
                continue;
            }
            let section = sections.get_mut(current.as_deref().unwrap()).unwrap();
            let value = section.get_mut(option.as_deref().unwrap()).unwrap();
            value.value.push('\n');
            value.value.push_str(piece);
            continue;
        }
        if let Some(header) = parse_header(line) {
            section_enabled = true;
            if let Some(expression) = header.expression.filter(|e| !e.is_empty()) {
                let expr = expression.replace(r"\x23", "#").replace(r"\x3b", ";");
                section_enabled = condition(&expr).map_err(|message| ConfigErrorKind::Condition {
                    file: file.to_string(),
                    line: lineno,
                    section: header.name.to_string(),
                    expression: expression.to_string(),
                    message,
                })?;
                if !section_enabled {
                    continue;
                }
            }
            sections.entry(header.name.to_string()).or_default();
            current = Some(header.name.to_string());
            // A section cannot start with a continuation line.
            option = None;
            continue;
        }
        let Some(section_name) = current.clone() else {
            if py_strip(line).is_empty() {
                continue;
            }
            return Err(ConfigErrorKind::MissingSectionHeader {
                file: file.to_string(),
                line: lineno,
                text: line.to_string(),
            }
            .into());
        };
        let rewritten;
        let line = if let Some(rest) = line.strip_prefix("=>") {
            rewritten = format!("<part-dependencies> = {rest}");
            rewritten.as_str()
        } else {
            line
        };
        if let Some((name, value)) = parse_option(line) {
            if !section_enabled {
                continue;
            }
            let value = py_strip(value);
            let section = sections.get_mut(&section_name).unwrap();
            let is_edit = name.ends_with('+') || name.ends_with('-');
            if is_edit && section.contains_key(name) {
                // Repeated `+=`/`-=` of one option in one file accumulate.
                let existing = section.get_mut(name).unwrap();
                existing.value = py_rstrip(&existing.value).to_string();
                if !value.is_empty() {
                    existing.value.push('\n');
                    existing.value.push_str(value);
                }
            } else {
                if !is_edit {
                    // An assignment after `+=`/`-=` in the same file replaces them.
                    section.shift_remove(&format!("{name} +"));
                    section.shift_remove(&format!("{name} -"));
                }
                section.insert(
                    name.to_string(),
                    ParsedValue {
                        value: value.to_string(),
                        line: lineno,
                    },
                );
            }
            option = Some(name.to_string());
            block_mode = value.is_empty();
        } else if option.is_none() && py_strip(line).is_empty() {
            continue;
        } else {
            bad_lines.push(BadLine {
                line: lineno,
                text: raw_line.to_string(),
            });
        }
    }

    if !bad_lines.is_empty() {
        return Err(ConfigErrorKind::Parse {
            file: file.to_string(),
            lines: bad_lines,
        }
        .into());
    }

    for section in sections.values_mut() {
        for value in section.values_mut() {
            if value.value.starts_with(is_py_space) {
                value.value = strip_leading_blank_lines(&dedent(py_rstrip(&value.value)));
            }
        }
    }
    Ok(sections)
}

/// Python's `textwrap.dedent`: whitespace-only lines become empty, then the longest
/// common leading run of spaces and tabs is removed from every line.
pub fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| if l.chars().all(|c| c == ' ' || c == '\t') { "" } else { l })
        .collect();
    let mut margin: Option<&str> = None;
    for line in &lines {
        if line.is_empty() {
            continue;
        }
        let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
        let indent = &line[..indent_len];
        margin = Some(match margin {
            None => indent,
            Some(m) if indent.starts_with(m) => m,
            Some(m) if m.starts_with(indent) => indent,
            Some(m) => {
                let common = m.bytes().zip(indent.bytes()).take_while(|(a, b)| a == b).count();
                &m[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    lines
        .iter()
        .map(|l| l.strip_prefix(margin).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Buildout's `^(\s*\n)+`: drops leading lines that hold only whitespace.
fn strip_leading_blank_lines(text: &str) -> String {
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            end = i + 1;
        } else if !is_py_space(c) {
            break;
        }
    }
    text[end..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ParsedFile {
        parse(text, "t.cfg", &mut |_| Ok(true)).unwrap()
    }

    #[test]
    fn option_keys_keep_their_operator() {
        let f = parse_ok("[a]\nx+=1\ny += 2\nz-= 3\n");
        let keys: Vec<_> = f["a"].keys().cloned().collect();
        assert_eq!(keys, ["x+", "y +", "z-"]);
    }

    #[test]
    fn block_values_are_dedented() {
        let f = parse_ok("[a]\nx =\n    one\n\n      two\n    three\n");
        assert_eq!(f["a"]["x"].value, "one\n\n  two\nthree");
        assert_eq!(f["a"]["x"].line, 2);
    }

    #[test]
    fn header_forms() {
        assert_eq!(parse_header("[  a  ]  # c").unwrap().name, "a");
        let h = parse_header("[a: x in [1, 2]] ; c").unwrap();
        assert_eq!(h.expression, Some(" x in [1, 2]"));
        assert!(parse_header("[my sec]").is_none());
        assert!(parse_header("[a] junk").is_none());
    }
}
