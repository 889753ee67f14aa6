//! `.installed.cfg`, the record of what is installed: for each part, its resolved
//! options, `__buildout_installed__` (the paths it created) and
//! `__buildout_signature__` (which recipe built it). Written in Buildout's exact
//! format, so a buildout directory can move between zc.buildout and bo, and read with
//! the same parser as configs (later `[buildout]` sections win, which is how
//! incremental updates are appended).

use std::io::Write;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::config::parser;

pub const INSTALLED_PATHS: &str = "__buildout_installed__";
pub const SIGNATURE: &str = "__buildout_signature__";

pub type PartOptions = IndexMap<String, String>;

/// The state file's contents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstalledState {
    /// `[buildout]`: `parts` (space separated, install order) and
    /// `installed_develop_eggs`.
    pub buildout: PartOptions,
    /// Each installed part's recorded options.
    pub parts: IndexMap<String, PartOptions>,
    /// Whether the file existed when read.
    pub exists: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write the state file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

const SPACEY: [(&str, &str); 5] = [
    ("%(__buildout_space__)s", " "),
    ("%(__buildout_space_n__)s", "\n"),
    ("%(__buildout_space_r__)s", "\r"),
    ("%(__buildout_space_f__)s", "\x0c"),
    ("%(__buildout_space_v__)s", "\x0b"),
];

impl InstalledState {
    pub fn read(path: &Path) -> Result<InstalledState, StateError> {
        if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                message: "it is a symbolic link; bo reads and writes its state file only as a plain file".into(),
            });
        }
        if !path.is_file() {
            let mut state = InstalledState::default();
            state.buildout.insert("parts".into(), String::new());
            return Ok(state);
        }
        let err = |message: String| StateError::Read {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let label = path.to_string_lossy();
        let sections = parser::parse(&text, &label, &mut |_| Ok(true)).map_err(|e| err(e.to_string()))?;
        let mut state = InstalledState {
            exists: true,
            ..Default::default()
        };
        for (name, options) in sections {
            let decoded: PartOptions = options
                .into_iter()
                .map(|(k, v)| {
                    let mut value = v.value;
                    if value.contains("%(") {
                        for (from, to) in SPACEY {
                            value = value.replace(from, to);
                        }
                    }
                    (k, value)
                })
                .collect();
            if name == "buildout" {
                state.buildout = decoded;
            } else {
                state.parts.insert(name, decoded);
            }
        }
        state.buildout.entry("parts".to_string()).or_default();
        Ok(state)
    }

    /// Installed part names in install order.
    pub fn part_names(&self) -> Vec<String> {
        self.buildout
            .get("parts")
            .map(|p| p.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    }

    /// Rewrites the whole file (Buildout's `_save_installed_options`).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let mut text = String::new();
        write_section(&mut text, "buildout", &self.buildout);
        for part in self.part_names() {
            if let Some(options) = self.parts.get(&part) {
                text.push('\n');
                write_section(&mut text, &part, options);
            }
        }
        write_atomically(path, text.as_bytes()).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Appends `[buildout]` options (Buildout's `_update_installed`): cheap, and
    /// readers take the last value.
    pub fn append(path: &Path, options: &[(&str, &str)]) -> Result<(), StateError> {
        let mut text = String::from("\n[buildout]\n");
        for (option, value) in options {
            save_option(&mut text, option, value);
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        // Never through a link: a checkout could ship `.installed.cfg -> ~/.bashrc`.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let mut file = options.open(path).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        // No fsync: an appended `parts` line only restates the order; the full
        // rewrites (which record paths) go through a synced temporary file.
        file.write_all(text.as_bytes()).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

pub use crate::fsutil::write_atomically;

/// Whether `key` can be written into `.installed.cfg` as one option name (a recipe
/// returns option names: one with a newline or `[` could forge sections).
pub fn is_option_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(['#', ';', '['])
        && !key.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '=' | ':'))
}

fn write_section(out: &mut String, name: &str, options: &PartOptions) {
    out.push_str(&format!("[{name}]\n"));
    let mut keys: Vec<&String> = options.keys().collect();
    keys.sort();
    for key in keys {
        save_option(out, key, &options[key]);
    }
}

fn is_spacey(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0c' | '\x0b')
}

/// Buildout's `_save_option`: newlines become `\n\t` continuation lines; whitespace
/// that the parser would strip is encoded as `%(__buildout_space*__)s`.
pub fn save_option(out: &mut String, option: &str, value: &str) {
    out.push_str(option);
    out.push_str(" = ");
    out.push_str(&encode_value(value));
    out.push('\n');
}

fn quote(run: &str) -> String {
    let mut pieces = run.splitn(2, '\n');
    let mut parts = Vec::new();
    for piece in pieces.by_ref() {
        parts.push(
            piece
                .replace(' ', "%(__buildout_space__)s")
                .replace('\r', "%(__buildout_space_r__)s")
                .replace('\x0c', "%(__buildout_space_f__)s")
                .replace('\x0b', "%(__buildout_space_v__)s")
                .replace('\n', "%(__buildout_space_n__)s"),
        );
    }
    parts.join("\n\t")
}

/// Applies `[ \t\r\f\v]*\n[ \t\r\f\v\n]*|^[ \t\r\f\v]+|[ \t\r\f\v]+$` substitution.
fn encode_value(value: &str) -> String {
    let chars: Vec<(usize, char)> = value.char_indices().collect();
    let mut out = String::new();
    let mut i = 0;
    let n = chars.len();
    let byte = |k: usize| if k < n { chars[k].0 } else { value.len() };
    while i < n {
        let c = chars[i].1;
        // Run of spacey chars: either contains a newline (then extends over
        // following spacey chars and newlines), or is at the start or end.
        if is_spacey(c) || c == '\n' {
            let mut j = i;
            while j < n && is_spacey(chars[j].1) {
                j += 1;
            }
            if j < n && chars[j].1 == '\n' {
                let mut k = j + 1;
                while k < n && (is_spacey(chars[k].1) || chars[k].1 == '\n') {
                    k += 1;
                }
                out.push_str(&quote(&value[byte(i)..byte(k)]));
                i = k;
                continue;
            }
            if i == 0 || j == n {
                out.push_str(&quote(&value[byte(i)..byte(j)]));
            } else {
                // A lone `\r` would read back as a line break (a forged section).
                out.push_str(&value[byte(i)..byte(j)].replace('\r', "%(__buildout_space_r__)s"));
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    if let Some(rest) = out.strip_prefix("\n\t") {
        out = format!("%(__buildout_space_n__)s{rest}");
    }
    if let Some(rest) = out.strip_suffix("\n\t") {
        out = format!("{rest}%(__buildout_space_n__)s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let hostile = [
            "x\n[forged]\nrecipe = evil",
            "x\r[forged]",
            "a\r\n[b]\r\nc = d",
            "\n[buildout]\nparts = evil",
            "x\x0b\x0c[y]",
        ];
        for value in ["plain", "", "a\nb", " lead", "trail ", "a \n  b", "\nstarts", "ends\n", "a\n\nb"]
            .into_iter()
            .chain(hostile)
        {
            let mut text = String::from("[p]\n");
            save_option(&mut text, "k", value);
            let parsed = parser::parse(&text, "t", &mut |_| Ok(true)).unwrap();
            assert_eq!(parsed.len(), 1, "{value:?} forged a section: {text:?}");
            assert_eq!(parsed["p"].len(), 1, "{value:?} forged an option: {text:?}");
            let mut got = parsed["p"]["k"].value.clone();
            for (from, to) in SPACEY {
                got = got.replace(from, to);
            }
            assert_eq!(got, value, "encoded as {text:?}");
        }
    }

    #[test]
    fn option_names_cannot_forge_sections() {
        assert!(is_option_name("recipe"));
        assert!(is_option_name("__buildout_installed__"));
        for bad in ["", "a\n[b]", "a b", "[x]", "a=b", "#c", "a:b", "x\r"] {
            assert!(!is_option_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_format() {
        let mut text = String::new();
        save_option(&mut text, "paths", "/r/a\n/r/b");
        assert_eq!(text, "paths = /r/a\n\t/r/b\n");
        let mut text = String::new();
        save_option(&mut text, "empty", "");
        assert_eq!(text, "empty = \n");
    }
}
