//! Assembling one configuration from layers: built-in defaults, user defaults, the
//! config file and everything it `extends`, command-line extends and assignments.
//! Every value carries its history (where it was set, added to, removed from), which
//! `bo annotate` prints. Ported from Buildout's `_open`, `_update`, `_update_section`
//! and `SectionKey`, including their documented quirks (diamond re-application,
//! user defaults under the first leaf file, `+=` never seeing built-in defaults).

use indexmap::IndexMap;

pub use super::fetch::{ConfigFetcher, DownloadSettings, HostCheck, ReadPolicy, UrlFetcher};
use super::opener::normalize;
pub use super::opener::{Layers, Opened, Opener, ParsedEntry};
use super::parser::ParsedFile;

/// Where a value came from. Files carry the line the option started on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    Default,
    Computed,
    CommandLine,
    /// The empty base that `+=`/`-=` start from when nothing was set before.
    Implicit,
    /// Raw values copied by a macro (`<=`); Buildout records no source for them.
    Macro,
    File {
        path: String,
        line: usize,
        /// Read as part of the user's own tree (`~/.buildout/default.cfg` and what
        /// it extends): trusted by how bo reached it, never by where it lies (bo
        /// writes files a configuration chose under `~/.buildout`, its eggs store).
        users: bool,
    },
    /// Set by a Buildout extension (named): as untrusted as the configuration.
    Extension(String),
}

impl Origin {
    /// The label Buildout prints: a file path or one of its `*_VALUE` words.
    pub fn label(&self) -> &str {
        match self {
            Origin::Default => "DEFAULT_VALUE",
            Origin::Computed => "COMPUTED_VALUE",
            Origin::CommandLine => "COMMAND_LINE_VALUE",
            Origin::Implicit => "IMPLICIT_VALUE",
            Origin::Macro => "",
            Origin::File { path, .. } => path,
            Origin::Extension(name) => name,
        }
    }

    /// `file:line` for files, the label otherwise: what error messages show.
    pub fn location(&self) -> String {
        match self {
            Origin::File { path, line, .. } => format!("{path}:{line}"),
            other => other.label().to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Set,
    Override,
    Add,
    Remove,
    Directory,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Set => "SET",
            Operation::Override => "OVERRIDE",
            Operation::Add => "ADD",
            Operation::Remove => "REMOVE",
            Operation::Directory => "DIRECTORY",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    pub operation: Operation,
    pub value: String,
    pub origin: Origin,
}

/// Whether values keep their whole history (what `bo annotate` prints). Other
/// commands need only where each value was last set: in a large extends tree,
/// where shared bases are laid again and again, the history is most of the work.
pub(super) static KEEP_HISTORY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Keep every value's whole history (for annotate), or only its last step.
pub fn keep_history(keep: bool) {
    KEEP_HISTORY.store(keep, std::sync::atomic::Ordering::Relaxed);
}

fn trim_history(history: &mut Vec<HistoryItem>) {
    if history.len() > 1 && !KEEP_HISTORY.load(std::sync::atomic::Ordering::Relaxed) {
        history.drain(..history.len() - 1);
    }
}

/// A merged option value with its history, newest last (Buildout's `SectionKey`).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotated {
    pub value: String,
    pub history: Vec<HistoryItem>,
}

impl Annotated {
    pub fn new(value: impl Into<String>, origin: Origin) -> Self {
        let value = value.into();
        Annotated {
            history: vec![HistoryItem {
                operation: Operation::Set,
                value: value.clone(),
                origin,
            }],
            value,
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.history.last().expect("history is never empty").origin
    }

    fn override_with(&mut self, other: &Annotated) {
        self.value = other.value.clone();
        let last = other.history.last().expect("history is never empty");
        if matches!(last.operation, Operation::Add | Operation::Remove) {
            self.history = other.history.clone();
        } else {
            self.history.push(HistoryItem {
                operation: Operation::Override,
                value: other.value.clone(),
                origin: last.origin.clone(),
            });
        }
        trim_history(&mut self.history);
    }

    pub fn set_directory(&mut self, value: String) {
        let origin = self.origin().clone();
        self.value = value.clone();
        self.history.push(HistoryItem {
            operation: Operation::Directory,
            value,
            origin,
        });
    }

    fn add(&mut self, added: &str, origin: Origin) {
        self.value.push('\n');
        self.value.push_str(added);
        self.history.push(HistoryItem {
            operation: Operation::Add,
            value: added.to_string(),
            origin,
        });
        trim_history(&mut self.history);
    }

    fn remove(&mut self, removed: &str, origin: Origin) {
        let removed_lines: Vec<&str> = removed.split('\n').collect();
        let kept: Vec<&str> = self.value.split('\n').filter(|line| !removed_lines.contains(line)).collect();
        self.value = kept.join("\n");
        self.history.push(HistoryItem {
            operation: Operation::Remove,
            value: removed.to_string(),
            origin,
        });
        trim_history(&mut self.history);
    }
}

pub type Section = IndexMap<String, Annotated>;
pub type Layer = IndexMap<String, Section>;

/// Lays `upper` over `lower` for one section (Buildout's `_update_section`): plain keys
/// override, `k +` appends lines, `k -` removes equal lines, from the value in `upper`
/// itself if set there, else from `lower`, else from an empty implicit value.
pub fn update_section(lower: &Section, upper: &Section) -> Section {
    let mut result = lower.clone();
    update_section_in_place(&mut result, upper);
    result
}

/// [`update_section`] without copying the lower section: each step costs the size
/// of `upper` (an edit of a value the lower section holds is made in place, its
/// history extended rather than copied), so folding a large extends tree stays
/// linear in its size.
pub fn update_section_in_place(result: &mut Section, upper: &Section) {
    let mut edits: Vec<(&String, &Annotated)> = upper.iter().filter(|(k, _)| k.ends_with('+') || k.ends_with('-')).collect();
    edits.sort_by(|(a, _), (b, _)| {
        let ka = (a.trim_end_matches([' ', '+']), a.chars().last());
        let kb = (b.trim_end_matches([' ', '+']), b.chars().last());
        ka.cmp(&kb)
    });
    // Values this layer sets for an edited key: its own value, or the implicit
    // empty one; edits of a value only `result` holds are made there directly.
    let mut staged: IndexMap<String, Annotated> = IndexMap::new();
    for (key, edit) in edits {
        let (base_key, adding) = if key.ends_with('+') {
            (key.trim_end_matches([' ', '+']), true)
        } else {
            (key.trim_end_matches([' ', '-']), false)
        };
        let target = if staged.contains_key(base_key) {
            staged.get_mut(base_key)
        } else if let Some(own) = upper.get(base_key) {
            staged.insert(base_key.to_string(), own.clone());
            staged.get_mut(base_key)
        } else if result.contains_key(base_key) {
            result.get_mut(base_key)
        } else {
            staged.insert(base_key.to_string(), Annotated::new("", Origin::Implicit));
            staged.get_mut(base_key)
        };
        let target = target.expect("just found or inserted");
        if adding {
            target.add(&edit.value, edit.origin().clone());
        } else {
            target.remove(&edit.value, edit.origin().clone());
        }
    }
    // Upper's keys in its order (an edited key where its own value stood), then
    // keys first set by an edit.
    let mut lay = |key: &str, value: &Annotated| match result.get_mut(key) {
        Some(existing) => existing.override_with(value),
        None => {
            result.insert(key.to_string(), value.clone());
        }
    };
    for (key, value) in upper {
        if key.ends_with('+') || key.ends_with('-') {
            continue;
        }
        match staged.get(key.as_str()) {
            Some(edited) => lay(key, edited),
            None => lay(key, value),
        }
    }
    for (key, value) in &staged {
        if !upper.contains_key(key.as_str()) {
            lay(key, value);
        }
    }
}

/// Lays one whole layer over another (Buildout's `_update`).
pub fn update(lower: &Layer, upper: &Layer) -> Layer {
    let mut result = lower.clone();
    update_in_place(&mut result, upper);
    result
}

/// [`update`] without copying the lower layer: large extends trees fold many
/// layers, often the same base files again and again (Buildout re-applies shared
/// bases), so each step must cost only the size of the upper layer.
pub fn update_in_place(result: &mut Layer, upper: &Layer) {
    for (name, section) in upper {
        if let Some(existing) = result.get_mut(name) {
            update_section_in_place(existing, section);
        } else if !section.contains_key("<") {
            // A section new in this layer: `k +=` with no `k` becomes `k =`, and `k -=`
            // with no `k` becomes empty. Buildout strips the operator as `k[:-2]`,
            // which assumes the spaced form `k +`; that quirk is kept.
            let mut temp = section.clone();
            let mut keys: Vec<String> = temp.keys().cloned().collect();
            keys.sort();
            for key in keys {
                let Some(last) = key.chars().last() else { continue };
                if last != '+' && last != '-' {
                    continue;
                }
                let base: String = key.chars().take(key.chars().count().saturating_sub(2)).collect();
                if temp.contains_key(&base) {
                    continue;
                }
                let Some(mut value) = temp.shift_remove(&key) else { continue };
                if last == '-' {
                    let whole = value.value.clone();
                    value.remove(&whole, Origin::Implicit);
                }
                temp.insert(base, value);
            }
            result.insert(name.clone(), update_section(&Section::new(), &temp));
        } else {
            // Macro users keep their `+=` keys until the macro is expanded.
            result.insert(name.clone(), section.clone());
        }
    }
}

pub fn annotate_parsed(parsed: ParsedFile, path: &str, users: bool) -> Layer {
    parsed
        .into_iter()
        .map(|(name, options)| {
            let section = options
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        Annotated::new(
                            v.value,
                            Origin::File {
                                path: path.to_string(),
                                line: v.line,
                                users,
                            },
                        ),
                    )
                })
                .collect();
            (name, section)
        })
        .collect()
}

pub fn is_url(name: &str) -> bool {
    match name.find("://") {
        Some(i) if i > 0 => name[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)),
        _ => false,
    }
}

/// `os.path.relpath(path, start)` for the absolute, normalised paths annotate shows.
pub fn relative_to(path: &str, start: &str) -> String {
    let path = normalize(path);
    let start = normalize(start);
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let s: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = p.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; s.len() - common];
    out.extend(&p[common..]);
    if out.is_empty() { ".".to_string() } else { out.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(pairs: &[(&str, &str)]) -> Section {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Annotated::new(
                        *v,
                        Origin::File {
                            path: "f".into(),
                            line: 1,
                            users: false,
                        },
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn add_and_remove_apply_in_order() {
        let lower = section(&[("x", "one\ntwo\nthree")]);
        let upper = section(&[("x +", "four"), ("x -", "two")]);
        assert_eq!(update_section(&lower, &upper)["x"].value, "one\nthree\nfour");
    }

    #[test]
    fn relpath() {
        assert_eq!(relative_to("/r/sub/base.cfg", "/r"), "sub/base.cfg");
        assert_eq!(relative_to("/r/sub/../b.cfg", "/r"), "b.cfg");
        assert_eq!(relative_to("/other/b.cfg", "/r"), "../other/b.cfg");
    }
}
