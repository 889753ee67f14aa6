//! Opening a configuration file and everything it extends (Buildout's `_open`):
//! local files and URLs, `optional-extends`, include cycles, user defaults merged
//! under the first file that extends nothing. Every file is read and parsed once,
//! and a file's extends tree is expanded once and shared however often it is
//! reached (SlapOS software releases reach the same components through tens of
//! thousands of paths), so opening stays linear in the size of the tree. Before
//! reading what an untrusted file names, the [`ReadPolicy`] is asked.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::error::{ConfigError, ConfigErrorKind};
use super::fetch::{ConfigFetcher, DownloadSettings, HostCheck, ReadPolicy};
use super::layers::{KEEP_HISTORY, Layer, Section, annotate_parsed, is_url, update, update_in_place, update_section};
use super::parser;

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
    /// Local files already read, by their real path.
    pub texts: HashMap<String, Rc<String>>,
    /// Local files the read policy permitted (by the name they were read as).
    pub(crate) permitted: HashSet<String>,
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
    /// Expanded for the user's own tree (its files were not asked for): not to be
    /// reused for an untrusted one.
    trusted: bool,
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
        // Asked before anything is reused: a file the user's own tree read is not
        // thereby the configuration's to read. A local file permitted once stays so.
        let policy = self.policy.filter(|_| !self.trusted);
        let mut allowed: HostCheck = std::sync::Arc::new(|_: &str| true);
        if let (Some(policy), Some(from)) = (policy, extended_from)
            && !(url.is_none() && self.permitted.contains(&full_name))
        {
            let refused = |m: String| ConfigError::new(ConfigErrorKind::Other(m));
            match url.as_deref() {
                Some(url) if url.starts_with("file://") => policy.local(Path::new(&url["file://".len()..]), from).map_err(refused)?,
                Some(url) => allowed = policy.remote(url, from).map_err(refused)?,
                None => {
                    policy.local(Path::new(&full_name), from).map_err(refused)?;
                    self.permitted.insert(full_name.clone());
                }
            }
            if url.is_some()
                && let Some(cache) = &settings.extends_cache
            {
                policy.cache(cache, settings.extends_cache_origin.as_ref()).map_err(refused)?;
            }
        }
        if let Some(entry) = self.parsed.get(&full_name) {
            return Ok((full_name, entry.clone()));
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
                let key = std::fs::canonicalize(&path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| normalize(&full_name));
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
            layer: Rc::new(annotate_parsed(parsed, &full_name, self.trusted)),
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
            && (self.trusted || !expanded.trusted)
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
                trusted: self.trusted,
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

/// Lexical normalisation (`a/./b/../c` → `a/c`) so one file reached by two spellings
/// is still recognised as an include cycle.
pub(super) fn normalize(name: &str) -> String {
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
