//! A recipe's log lines on bo's output: prefixed with the part's name, so that a
//! recipe's text never passes for bo's own lines.

use crate::runtime::bo::recipe::types::Level;

pub(super) fn print(part: &str, level: Level, message: &str, verbose: bool, quiet: bool) {
    // A recipe's text never passes for bo's own lines: a line of its message
    // starts with the part's name unless it is an indented continuation (as
    // Buildout prints `Creating '/etc/app',\n    mode 755`), and control
    // characters (escape sequences that move the cursor or clear the screen, a
    // carriage return) are shown escaped.
    if message.contains(|c: char| c.is_control() && c != '\t') {
        let mut groups: Vec<String> = Vec::new();
        for line in message.split('\n') {
            let shown: String = line
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\t' {
                        c.escape_unicode().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            match groups.last_mut() {
                Some(last) if shown.starts_with([' ', '\t']) => {
                    last.push('\n');
                    last.push_str(&shown);
                }
                _ => groups.push(shown),
            }
        }
        if groups.len() > 1 || groups.first().is_some_and(|g| g != message) {
            for group in groups {
                print(part, level, &group, verbose, quiet);
            }
            return;
        }
    }
    match level {
        Level::Debug if verbose => crate::progress::println(&format!("{part}: {message}")),
        Level::Debug => {}
        Level::Info if quiet => {}
        Level::Info => crate::progress::println(&format!("{part}: {message}")),
        Level::Warning => crate::progress::println(&format!("{part}: warning: {message}")),
        Level::Error => crate::progress::eprintln(&format!("{part}: error: {message}")),
    }
}
