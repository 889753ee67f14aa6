//! Assembling one configuration from layers: built-in defaults, user defaults, the
//! config file and everything it `extends`, command-line extends and assignments.
//! Every value carries its history (where it was set, added to, removed from), which
//! `bo annotate` prints. Ported from Buildout's `_open`, `_update`, `_update_section`
//! and `SectionKey`, including their documented quirks (diamond re-application,
//! user defaults under the first leaf file, `+=` never seeing built-in defaults).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use indexmap::IndexMap;

use super::error::{ConfigError, ConfigErrorKind};
pub use super::fetch::{ConfigFetcher, DownloadSettings, HostCheck, ReadPolicy, UrlFetcher};
use super::parser::{self, ParsedFile};

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
    },
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
        }
    }

    /// `file:line` for files, the label otherwise: what error messages show.
    pub fn location(&self) -> String {
        match self {
            Origin::File { path, line } => format!("{path}:{line}"),
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
static KEEP_HISTORY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

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

/// The options of a `[buildout]` section that govern downloading configurations
/// (all that is carried down an extends tree: the rest would be copied per file).
fn download_keys(section: &Section) -> Section {
    const KEYS: &[&str] = &["directory", "extends-cache", "offline", "newest", "install-from-cache"];
    section
        .iter()
        .filter(|(k, _)| KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn annotate_parsed(parsed: ParsedFile, path: &str) -> Layer {
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

fn fs_read(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads a config file and, recursively, everything it extends.
pub struct Opener<'a> {
    pub fetcher: &'a mut dyn ConfigFetcher,
    pub condition: &'a mut dyn FnMut(&str) -> Result<bool, String>,
    /// Lines Buildout prints on stdout while reading (optional-extends notices).
    pub notices: Vec<String>,
    /// `[buildout]` of the defaults and user defaults, for download settings.
    pub download_base: Section,
    /// `[buildout]` assignments from the command line, which win over files.
    pub download_override: Section,
    /// Files already read in this run, parsed (a shared base is read once however
    /// often the extends tree reaches it).
    pub parsed: HashMap<String, Rc<ParsedEntry>>,
    /// Local files already read, by their normalised path.
    pub texts: HashMap<String, Rc<String>>,
    /// Extends trees already expanded (local ones, without user defaults in them).
    pub(super) expanded: HashMap<String, Rc<Expanded>>,
    /// The normalised names of the files being opened (for include cycles).
    pub(super) seen_keys: Vec<String>,
    /// `(base, filename)` → the file's real path (see `local_name`).
    pub(super) real_names: HashMap<(String, String), String>,
    /// Asked before reading what an untrusted file extends; `None` reads anything.
    pub policy: Option<&'a dyn ReadPolicy>,
    /// Whether the tree being opened is the user's (default.cfg, command-line
    /// extends), whose extends are read without asking.
    pub trusted: bool,
}

/// One file, parsed: its `extends` and `optional-extends`, and its own values.
pub struct ParsedEntry {
    extends: Option<String>,
    optional_extends: Option<String>,
    layer: Rc<Layer>,
    base: String,
}

/// The result of opening one file: its flat list of layers, in Buildout's order.
/// The layers of an extends tree in Buildout's order, as a tree of shared parts:
/// a base reached many times is one shared node, not a copy of its layers.
pub enum Layers {
    One(Rc<Layer>),
    Many(Vec<Rc<Layers>>),
}

impl Layers {
    /// Each layer, in order.
    pub fn for_each(&self, f: &mut dyn FnMut(&Layer)) {
        match self {
            Layers::One(layer) => f(layer),
            Layers::Many(parts) => parts.iter().for_each(|p| p.for_each(f)),
        }
    }
}

pub struct Opened {
    pub layers: Rc<Layers>,
    pub user_defaults: Layer,
    /// The files of this subtree (normalised), for include cycles.
    files: Rc<HashSet<String>>,
    /// Whether the subtree reached a URL (then it depends on download settings).
    remote: bool,
}

/// A file's extends tree, expanded once: a base that many files extend (SlapOS
/// components are reached tens of thousands of times) is walked once, and each
/// later reach reuses its layers.
pub(super) struct Expanded {
    layers: Rc<Layers>,
    files: Rc<HashSet<String>>,
    notices: Vec<String>,
}

impl Opener<'_> {
    /// Opens the root config `filename` (relative to `base`) and folds its extends tree,
    /// with `user_defaults` merged under the first file that extends nothing.
    pub fn open_root(&mut self, base: &str, filename: &str, user_defaults: Layer) -> Result<Layer, ConfigError> {
        let mut seen = Vec::new();
        let download = update_section(&self.download_base, &self.download_override);
        let opened = self.open(base, filename, &mut seen, user_defaults, None, &download)?;
        let mut folded = Layer::new();
        opened.layers.for_each(&mut |layer| update_in_place(&mut folded, layer));
        Ok(folded)
    }

    /// Reads and parses a file (or a URL) unless it was already.
    fn read(
        &mut self,
        base: &str,
        filename: &str,
        extended_from: Option<&str>,
        settings: &DownloadSettings,
    ) -> Result<(String, Rc<ParsedEntry>), ConfigError> {
        let url = if is_url(filename) {
            Some(filename.to_string())
        } else if is_url(base) && !Path::new(filename).is_absolute() {
            Some(format!("{base}/{filename}"))
        } else {
            None
        };
        let full_name = match &url {
            Some(url) => url.clone(),
            None => self.local_name(base, filename),
        };
        if let Some(entry) = self.parsed.get(&full_name) {
            return Ok((full_name, entry.clone()));
        }
        // A local file already read was already permitted.
        let known = url.is_none() && self.texts.contains_key(&normalize(&full_name));
        let policy = self.policy.filter(|_| !self.trusted && !known);
        let mut allowed: HostCheck = std::sync::Arc::new(|_: &str| true);
        if let (Some(policy), Some(from)) = (policy, extended_from) {
            let refused = |m: String| ConfigError::new(ConfigErrorKind::Other(m));
            match url.as_deref() {
                Some(url) if url.starts_with("file://") => policy.local(Path::new(&url["file://".len()..]), from).map_err(refused)?,
                Some(url) => allowed = policy.remote(url, from).map_err(refused)?,
                None => policy.local(Path::new(&full_name), from).map_err(refused)?,
            }
            if url.is_some()
                && let Some(cache) = &settings.extends_cache
            {
                policy.cache(cache, settings.extends_cache_origin.as_ref()).map_err(refused)?;
            }
        }
        let (new_base, text) = match &url {
            Some(url) => {
                let text = self.fetcher.fetch(url, settings, allowed).map_err(ConfigErrorKind::Download)?;
                (url[..url.rfind('/').unwrap_or(0)].to_string(), Rc::new(text))
            }
            None => {
                let path = PathBuf::from(&full_name);
                // One file reached by many spellings (`a/../b.cfg`, `b.cfg`) is read
                // once; each spelling keeps its own name, as Buildout's does.
                let key = normalize(&full_name);
                let text = match self.texts.get(&key) {
                    Some(text) => text.clone(),
                    None => {
                        let text = Rc::new(fs_read(&path).map_err(|e| match extended_from {
                            None => ConfigError::new(ConfigErrorKind::MissingConfig { path: path.clone() }),
                            Some(from) => ConfigError::new(ConfigErrorKind::ExtendsRead {
                                file: from.to_string(),
                                path: path.clone(),
                                message: e.to_string(),
                            }),
                        })?);
                        self.texts.insert(key, text.clone());
                        text
                    }
                };
                (path.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(), text)
            }
        };
        let mut parsed = parser::parse(&text, &full_name, self.condition)?;
        let (extends, optional_extends) = match parsed.get_mut("buildout") {
            Some(buildout) => {
                let extends = buildout.shift_remove("extends").map(|v| v.value);
                if buildout.contains_key("extended-by") {
                    return Err(ConfigErrorKind::ExtendedBy(full_name).into());
                }
                (extends, buildout.shift_remove("optional-extends").map(|v| v.value))
            }
            None => (None, None),
        };
        let entry = Rc::new(ParsedEntry {
            extends,
            optional_extends,
            layer: Rc::new(annotate_parsed(parsed, &full_name)),
            base: new_base,
        });
        self.parsed.insert(full_name.clone(), entry.clone());
        Ok((full_name, entry))
    }

    /// The name a local file is known by: `base/filename` as Buildout spells it
    /// when the history is kept (annotate shows it); otherwise its real path, so
    /// that one file reached through many relative spellings is one file (SlapOS
    /// trees reach the same component through thousands of `../..` chains).
    fn local_name(&mut self, base: &str, filename: &str) -> String {
        let joined = Path::new(base).join(filename);
        if KEEP_HISTORY.load(std::sync::atomic::Ordering::Relaxed) {
            return joined.to_string_lossy().into_owned();
        }
        let key = (base.to_string(), filename.to_string());
        if let Some(real) = self.real_names.get(&key) {
            return real.clone();
        }
        let real = std::fs::canonicalize(&joined)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| joined.to_string_lossy().into_owned());
        self.real_names.insert(key, real.clone());
        real
    }

    fn open(
        &mut self,
        base: &str,
        filename: &str,
        seen: &mut Vec<String>,
        mut user_defaults: Layer,
        extended_from: Option<&str>,
        download: &Section,
    ) -> Result<Opened, ConfigError> {
        let download = download_keys(&update_section(download, &self.download_override));
        let settings = DownloadSettings::from_section(&download);
        let (full_name, entry) = self.read(base, filename, extended_from, &settings)?;
        let key = normalize(&full_name);
        if self.seen_keys.contains(&key) {
            return Err(ConfigErrorKind::RecursiveInclude {
                stack: seen.clone(),
                file: full_name,
            }
            .into());
        }
        // Reached before: the same layers, unless they would close a cycle here.
        let reusable = user_defaults.is_empty() && !seen.is_empty();
        if reusable
            && let Some(expanded) = self.expanded.get(&full_name).cloned()
            && !self.seen_keys.iter().any(|k| expanded.files.contains(k))
        {
            self.notices.extend(expanded.notices.iter().cloned());
            return Ok(Opened {
                layers: expanded.layers.clone(),
                user_defaults,
                files: expanded.files.clone(),
                remote: false,
            });
        }
        let notices_before = self.notices.len();
        let mut files: HashSet<String> = HashSet::from([key.clone()]);
        let mut remote = is_url(&full_name);
        seen.push(full_name.clone());
        self.seen_keys.push(key);
        let new_base = entry.base.clone();
        let mut result = entry.layer.clone();
        let download = match result.get("buildout") {
            Some(buildout) if seen.len() == 1 => download_keys(&update_section(&download, buildout)),
            _ => download,
        };

        let mut layers = Vec::new();
        match &entry.extends {
            Some(extends) if extends.split_whitespace().next().is_some() => {
                for name in extends.split_whitespace() {
                    let opened = self.open(&new_base, name, seen, user_defaults, Some(&full_name), &download)?;
                    user_defaults = opened.user_defaults;
                    layers.push(opened.layers);
                    files.extend(opened.files.iter().cloned());
                    remote |= opened.remote;
                }
            }
            _ => {
                if !user_defaults.is_empty() {
                    result = Rc::new(update(&user_defaults, &result));
                    user_defaults = Layer::new();
                }
            }
        }
        if let Some(optional) = &entry.optional_extends {
            for name in optional.split_whitespace() {
                // Buildout tests existence relative to the current directory but opens
                // relative to the extending file; bo tests where it opens, which agrees
                // whenever the extending file sits in the current directory.
                let exists = is_url(name) || is_url(&new_base) || Path::new(&new_base).join(name).exists();
                if !exists {
                    self.notices.push(format!("optional-extends file not found: {name}"));
                    continue;
                }
                let opened = self.open(&new_base, name, seen, user_defaults, Some(&full_name), &download)?;
                user_defaults = opened.user_defaults;
                layers.push(opened.layers);
                files.extend(opened.files.iter().cloned());
                remote |= opened.remote;
            }
        }
        layers.push(Rc::new(Layers::One(result)));
        let layers = Rc::new(Layers::Many(layers));
        seen.pop();
        self.seen_keys.pop();
        let files = Rc::new(files);
        if reusable && !remote {
            let expanded = Expanded {
                layers: layers.clone(),
                files: files.clone(),
                notices: self.notices[notices_before..].to_vec(),
            };
            self.expanded.insert(full_name.clone(), Rc::new(expanded));
        }
        Ok(Opened {
            layers,
            user_defaults,
            files,
            remote,
        })
    }
}

/// Lexical normalisation (`a/./b/../c` → `a/c`) so one file reached by two spellings
/// is still recognised as an include cycle.
fn normalize(name: &str) -> String {
    if is_url(name) {
        return name.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." if !parts.is_empty() => {}
            ".." if parts.last().is_some_and(|p| *p != ".." && !p.is_empty()) => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
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
            .map(|(k, v)| (k.to_string(), Annotated::new(*v, Origin::File { path: "f".into(), line: 1 })))
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
