//! Finding the component behind `recipe = ...` and the host services a build offers
//! its recipes. A recipe reference is a path to a `.wasm` component (relative to the
//! buildout directory), or a name `project[:entry]` looked up as `project.wasm` /
//! `project-entry.wasm` in the directories of `BO_RECIPE_PATH`, then among the
//! recipes bundled in bo.

use crate::trust::grants::GrantKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indexmap::IndexMap;

use std::collections::BTreeMap;

use crate::python::index::IndexSettings;
use crate::python::lock::{Lock, LockedDist, LockedPart};
use crate::python::resolve::ResolveSettings;
use crate::python::{self, InstallSettings, Installed};
use crate::runtime::{HostServices, Level};

/// What changed between a locked and a fresh resolution, for `--locked` errors.
pub fn lock_difference(old: Option<&LockedPart>, new: &LockedPart) -> String {
    let Some(old) = old else { return "no entry for this part".into() };
    if old.requirements != new.requirements {
        return format!("requirements {} -> {}", old.requirements.join(", "), new.requirements.join(", "));
    }
    let mut changes = Vec::new();
    for d in &new.distributions {
        match old.distributions.iter().find(|o| o.name == d.name) {
            None => changes.push(format!("+{} {}", d.name, d.version)),
            Some(o) if o.version != d.version => changes.push(format!("{} {} -> {}", d.name, o.version, d.version)),
            Some(o) if o.sha256 != d.sha256 && !o.sha256.is_empty() && !d.sha256.is_empty() => {
                changes.push(format!("{} {} file changed", d.name, d.version))
            }
            _ => {}
        }
    }
    for o in &old.distributions {
        if !new.distributions.iter().any(|d| d.name == o.name) {
            changes.push(format!("-{} {}", o.name, o.version));
        }
    }
    if changes.is_empty() {
        "files changed".into()
    } else {
        changes.join(", ")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecipeSource {
    /// The reference as written in the config.
    pub reference: String,
    pub path: PathBuf,
    /// `project:entry` served by `project.wasm`: the entry the recipe is told
    /// (as `BO_RECIPE_ENTRY`), so one component can offer several entries.
    pub entry: Option<String>,
    /// Set when the reference is a classic Python recipe, run by the bundled
    /// runner (`path`).
    pub classic: Option<std::sync::Arc<super::classic::ClassicRecipe>>,
}

/// How a part's recipe is bound: the entry its reference named, and the classic
/// recipe when the runner runs it.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    pub entry: Option<String>,
    pub classic: Option<std::sync::Arc<super::classic::ClassicRecipe>>,
}

impl From<&RecipeSource> for Binding {
    fn from(source: &RecipeSource) -> Binding {
        Binding {
            entry: source.entry.clone(),
            classic: source.classic.clone(),
        }
    }
}

/// Resolves a `recipe` option to a component file (OCI references are pulled by
/// [`BuildServices::resolve_recipe`]).
pub fn resolve(reference: &str, buildout_dir: &Path) -> Result<RecipeSource, String> {
    let reference = reference.trim();
    if reference.ends_with(".wasm") || reference.contains('/') {
        let path = buildout_dir.join(reference);
        return if path.is_file() {
            Ok(RecipeSource {
                reference: reference.to_string(),
                path,
                entry: None,
                classic: None,
            })
        } else {
            Err(format!("recipe {reference}: no component at {}", path.display()))
        };
    }
    let (project, entry) = match reference.split_once(':') {
        Some((p, e)) => (p.trim(), Some(e.trim())),
        None => (reference, None),
    };
    // A requirement-style reference (`name==1.0`) names the project before the version.
    let project = project.split(['=', '<', '>', '!', '~', ' ', '[']).next().unwrap_or(project);
    let entry = entry.filter(|e| *e != "default");
    // `project-entry.wasm` if there is one, else `project.wasm` told its entry; each
    // as written and normalised (`zc.recipe.egg` is also `zc-recipe-egg`).
    let normalized = project.to_ascii_lowercase().replace(['.', '_'], "-");
    let mut files = Vec::new();
    for name in [project, normalized.as_str()] {
        if let Some(entry) = entry {
            files.push((format!("{name}-{entry}.wasm"), None));
        }
        files.push((format!("{name}.wasm"), entry.map(String::from)));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("BO_RECIPE_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(bundled_dir());
    for dir in &dirs {
        for (file, entry) in &files {
            let candidate = dir.join(file);
            if candidate.is_file() {
                return Ok(RecipeSource {
                    reference: reference.to_string(),
                    path: candidate,
                    entry: entry.clone(),
                    classic: None,
                });
            }
        }
    }
    for (file, entry) in &files {
        if let Some(path) = crate::runtime::bundled::by_name(file.trim_end_matches(".wasm")) {
            return Ok(RecipeSource {
                reference: reference.to_string(),
                path,
                entry: entry.clone(),
                classic: None,
            });
        }
    }
    let mut looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    looked.push("the recipes built into bo".into());
    Err(format!(
        "recipe {reference}: no component {} (looked in {})",
        files[0].0,
        looked.join(", ")
    ))
}

/// `oci://reg/ns/name:tag` pinned to a manifest digest.
fn pin_reference(reference: &str, digest: &str) -> String {
    let base = reference.split('@').next().unwrap_or(reference);
    let last_slash = base.rfind('/').unwrap_or(0);
    let base = match base[last_slash..].find(':') {
        Some(colon) => &base[..last_slash + colon],
        None => base,
    };
    format!("{base}@{digest}")
}

/// Names of the recipes built into bo.
pub fn bundled_names() -> Vec<&'static str> {
    crate::runtime::bundled::names()
}

/// Where packaged recipes live: `<prefix>/share/bo/recipes` beside the `bo` binary
/// (`BO_BUNDLED_RECIPES=off` turns these and the built-in ones off).
pub fn bundled_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let prefix = exe.parent().and_then(Path::parent).unwrap_or(Path::new("/usr/local"));
    prefix.join("share").join("bo").join("recipes")
}

/// How `bo.lock` is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// Resolve, then record the result.
    #[default]
    Update,
    /// Resolve, and fail if the result differs from the lock (`--locked`).
    Locked,
    /// Install what the lock says without resolving (`--frozen`).
    Frozen,
}

/// Host services for one build: the config view, downloads, Python, and the log.
pub struct BuildServices {
    pub snapshot: Mutex<HashMap<String, IndexMap<String, String>>>,
    pub used_buildout_options: Mutex<Vec<String>>,
    /// Per part, the options its recipe said it read (recipes built with the SDK
    /// say so; others never get the unused-option warning).
    pub options_read: Mutex<HashMap<String, std::collections::BTreeSet<String>>>,
    pub download_cache: PathBuf,
    pub offline: bool,
    pub newest: bool,
    pub quiet: bool,
    pub directory: PathBuf,
    pub eggs_directory: PathBuf,
    pub lock_mode: LockMode,
    pub lock: Mutex<Lock>,
    /// What each part resolved to in this run.
    pub resolved: Mutex<BTreeMap<String, LockedPart>>,
    /// OCI recipes pulled in this run: reference → manifest digest.
    pub pulled_recipes: Mutex<BTreeMap<String, String>>,
    /// Versions picked without an exact pin: name → (version, who required it).
    pub picked: Mutex<BTreeMap<String, (String, Vec<String>)>>,
    pub oci: crate::oci::OciOptions,
    /// The user's grants (for the host capabilities of `python.install`).
    pub grants: crate::trust::grants::UserGrants,
    /// `[buildout] develop` projects, prepared before the parts run.
    pub develop: Mutex<Vec<python::develop::DevelopDist>>,
    /// The interpreters bo may run for this build (the trust boundary's answer).
    pub interpreters: crate::trust::settings::Interpreters,
    /// The hosts each part's `python.install` may reach.
    pub index_hosts: crate::trust::network::IndexHosts,
    /// `-v`: show debug lines (programs' output as it comes).
    pub verbose: bool,
    /// Classic recipes resolved in this run, by part and reference.
    pub classic: Mutex<HashMap<String, std::sync::Arc<super::classic::ClassicRecipe>>>,
}

impl BuildServices {
    /// Finds the component for a `recipe` option; `oci://` references are pulled
    /// into the store (or found there), pinned by `bo.lock` when it has them.
    pub fn resolve_recipe(&self, part: &str, reference: &str) -> Result<RecipeSource, String> {
        let reference = reference.trim();
        if !reference.starts_with("oci://") {
            return match resolve(reference, &self.directory) {
                Err(not_a_component) if !reference.ends_with(".wasm") && !reference.contains('/') => {
                    self.resolve_classic(part, reference, &not_a_component)
                }
                found => found,
            };
        }
        // The configuration chose the registry: bo contacts it only under a grant.
        let registry = reference["oci://".len()..].split('/').next().unwrap_or("");
        let host = registry.rsplit_once(':').map_or(
            registry,
            |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { registry },
        );
        let granted = self
            .grants
            .values(crate::trust::CONFIG_GRANTEE, crate::trust::grants::GrantKind::Host)
            .iter()
            .any(|g| crate::trust::grants::host_matches(g, host));
        if !granted && !self.oci.offline {
            return Err(format!(
                "recipe {reference}: the configuration names the registry {registry}; bo contacts it only under a grant: `--grant {}:host={host}`",
                crate::trust::CONFIG_GRANTEE
            ));
        }
        let locked = self.lock.lock().unwrap().recipes.get(reference).cloned();
        let pull_ref = match (&locked, self.lock_mode) {
            (Some(digest), LockMode::Frozen) => pin_reference(reference, digest),
            _ => reference.to_string(),
        };
        let pulled = crate::oci::pull(&pull_ref, &self.oci).map_err(|e| format!("recipe {reference}: {e}"))?;
        if self.lock_mode == LockMode::Locked
            && let Some(digest) = &locked
            && digest != &pulled.manifest_digest
        {
            return Err(format!(
                "recipe {reference}: the tag now points at {}, but bo.lock has {digest}; run without --locked to accept it",
                pulled.manifest_digest
            ));
        }
        self.pulled_recipes
            .lock()
            .unwrap()
            .insert(reference.to_string(), pulled.manifest_digest.clone());
        Ok(RecipeSource {
            reference: reference.to_string(),
            path: pulled.component,
            entry: None,
            classic: None,
        })
    }

    /// Installs `requirements` for the lock entry `part` (a part, or `PART:recipe`
    /// for a classic recipe), following the lock mode.
    pub(super) fn install_locked(&self, part: &str, requirements: &[String], settings: &InstallSettings) -> Result<Vec<Installed>, String> {
        let settings = settings.clone();
        let locked = self.lock.lock().unwrap().parts.get(part).cloned();

        if self.lock_mode == LockMode::Frozen {
            let locked = locked.filter(|l| l.requirements == requirements).ok_or_else(|| {
                format!(
                    "part {part}: bo.lock has no entry for these requirements ({}); run without --frozen to update it",
                    requirements.join(", ")
                )
            })?;
            return self.install_frozen(part, &locked, &settings);
        }
        let installed = python::install(requirements, &settings).map_err(|e| {
            // A refused host: say which grant would allow it.
            match e.split_once("host \"").and_then(|(_, rest)| rest.split_once("\" is not granted")) {
                Some((host, _)) => format!(
                    "part {part}: {e}; the configuration's index or find-links are not yours: grant the host with `--grant {grantee}:host={host}` (or `--grant buildout:host={host}` for every part)",
                    grantee = part.trim_end_matches(":recipe")
                ),
                None => format!("part {part}: {e}"),
            }
        })?;
        {
            let mut picked = self.picked.lock().unwrap();
            for d in installed.iter().filter(|d| d.picked) {
                let entry = picked.entry(d.name.clone()).or_insert_with(|| (d.version.clone(), Vec::new()));
                if let Some(by) = d.required_by.last() {
                    if !entry.1.contains(by) {
                        entry.1.push(by.clone());
                    }
                }
            }
        }
        let entry = LockedPart {
            requirements: requirements.to_vec(),
            distributions: installed
                .iter()
                // Develop projects are the local tree, not a locked file.
                .filter(|d| d.source != python::DEVELOP_SOURCE)
                .map(|d| LockedDist {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    filename: d.filename.clone(),
                    sha256: d.sha256.clone(),
                    source: d.source.clone(),
                })
                .collect(),
        };
        if self.lock_mode == LockMode::Locked && !locked.as_ref().is_some_and(|l| l.same_files(&entry)) {
            return Err(format!(
                "part {part}: bo.lock would change ({}); run without --locked to update it",
                lock_difference(locked.as_ref(), &entry)
            ));
        }
        self.resolved.lock().unwrap().insert(part.to_string(), entry);
        Ok(installed)
    }

    fn option(&self, part: &str, key: &str) -> Option<String> {
        let snapshot = self.snapshot.lock().unwrap();
        snapshot
            .get(part)
            .and_then(|o| o.get(key))
            .or_else(|| snapshot.get("buildout").and_then(|o| o.get(key)))
            .cloned()
    }

    pub(crate) fn install_settings(&self, part: &str) -> Result<InstallSettings, String> {
        let snapshot = self.snapshot.lock().unwrap().clone();
        let buildout = snapshot.get("buildout").cloned().unwrap_or_default();
        // Read here on the part's behalf (a classic recipe's resolution): used.
        self.used_buildout_options.lock().unwrap().extend(
            [
                "index",
                "find-links",
                "allow-hosts",
                "versions",
                "prefer-final",
                "allow-picked-versions",
                "download-cache",
            ]
            .map(String::from),
        );
        let get = |key: &str| snapshot.get(part).and_then(|o| o.get(key)).or_else(|| buildout.get(key)).cloned();
        let index = get("index")
            .filter(|i| !i.trim().is_empty())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok().filter(|i| !i.is_empty()))
            .unwrap_or_else(|| python::DEFAULT_INDEX.to_string());
        let find_links: Vec<String> = get("find-links").unwrap_or_default().split_whitespace().map(String::from).collect();
        // Local ones relative to the buildout directory (Buildout works from
        // there), and read only where the trust boundary permits.
        let relative = |entry: String| match reqwest::Url::parse(&entry) {
            Ok(url) if url.scheme().len() > 1 => entry,
            _ => crate::config::abspath(&self.directory, Path::new(&entry))
                .to_string_lossy()
                .into_owned(),
        };
        let mut find_links: Vec<String> = find_links.into_iter().map(relative).collect();
        let index = relative(index);
        for entry in find_links.iter() {
            self.index_hosts.check_local("find-links", entry, &self.directory)?;
        }
        self.index_hosts.check_local("index", &index, &self.directory)?;
        if let Ok(env_links) = std::env::var("PIP_FIND_LINKS") {
            find_links.extend(env_links.split_whitespace().map(String::from));
        }
        let allow_hosts: Vec<String> = get("allow-hosts")
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l != "*")
            .collect();
        let versions = buildout.get("versions").cloned().unwrap_or_default();
        let pins = snapshot
            .get(&versions)
            .map(|v| v.iter().map(|(k, v)| (python::metadata::normalize(k), v.clone())).collect())
            .unwrap_or_default();
        let flag = |key: &str, default: bool| buildout.get(key).map(|v| v == "true").unwrap_or(default);
        let cache = match buildout.get("download-cache").filter(|c| !c.is_empty()) {
            // As the trust boundary checked it: relative to the buildout directory
            // (a `${...}` value, or one an extension set, was never made absolute),
            // never to wherever bo was started.
            Some(dir) => crate::config::abspath(&self.directory, Path::new(dir.trim())).join("dist"),
            None => self.download_cache.join("dist"),
        };
        Ok(InstallSettings {
            part: part.to_string(),
            develop: self.develop.lock().unwrap().clone(),
            allow_build: self.grants.values(part, GrantKind::Build),
            executable: self.python_executable(part)?,
            index: IndexSettings {
                index: Some(index),
                find_links,
                allow_hosts,
                offline: self.offline,
                cache,
                grant: self.index_hosts.for_part(part),
            },
            resolve: ResolveSettings {
                pins,
                prefer_final: flag("prefer-final", true),
                allow_picked_versions: flag("allow-picked-versions", true),
                newest: self.newest,
            },
            store: self.eggs_directory.clone(),
            fixed_target: None,
            provided: Vec::new(),
        })
    }

    fn install_frozen(&self, part: &str, locked: &LockedPart, settings: &InstallSettings) -> Result<Vec<Installed>, String> {
        let index = python::index::Index::new(settings.index.clone());
        let mut out = Vec::new();
        for dist in &locked.distributions {
            // Only the entry holding the locked content (a shared store may hold
            // another wheel under this name).
            let entry = python::wheel::installed_entry(&settings.store, &dist.filename, Some(&dist.sha256));
            let installed = if let Some(target) = entry {
                python::wheel::read_installed(&target, &dist.filename).map_err(|e| e.to_string())?
            } else if let Some(cached) = [settings.index.cache.join(&dist.filename)]
                .into_iter()
                // The download cache keys files by URL: any copy with the locked
                // hash will do.
                .chain(
                    std::fs::read_dir(&settings.index.cache)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|d| d.path().join(&dist.filename)),
                )
                .chain(
                    settings
                        .index
                        .find_links
                        .iter()
                        .map(|l| PathBuf::from(l.trim_start_matches("file://")).join(&dist.filename)),
                )
                .find(|p| p.is_file() && python::index::check_sha256(p, &dist.sha256).is_ok())
            {
                // The locked file is at hand: no index needed.
                python::wheel::install(&cached, &settings.store).map_err(|e| e.to_string())?
            } else {
                let candidate = index
                    .candidates(&dist.name)?
                    .into_iter()
                    .find(|c| c.filename == dist.filename)
                    .ok_or_else(|| {
                        format!(
                            "part {part}: {} (locked) is not available from the index, find-links or the cache",
                            dist.filename
                        )
                    })?;
                let path = index.fetch(&candidate)?;
                python::index::check_sha256(&path, &dist.sha256).map_err(|e| format!("part {part}: locked file changed: {e}"))?;
                python::wheel::install(&path, &settings.store).map_err(|e| e.to_string())?
            };
            out.push(Installed {
                name: dist.name.clone(),
                version: dist.version.clone(),
                location: installed.location,
                console_scripts: installed.console_scripts,
                required_by: Vec::new(),
                picked: false,
                filename: dist.filename.clone(),
                sha256: dist.sha256.clone(),
                source: dist.source.clone(),
            });
        }
        Ok(out)
    }
}

impl HostServices for BuildServices {
    fn python_build_custom(
        &self,
        part: &str,
        requirement: &str,
        build_ext: &[(String, String)],
        environment: Option<&str>,
    ) -> Result<Installed, String> {
        self.build_custom(part, requirement, build_ext, environment)
    }

    fn python_develop(&self, part: &str, directory: &str, build_ext: &[(String, String)]) -> Result<Installed, String> {
        self.develop_part(part, directory, build_ext)
    }

    fn note_options_read(&self, part: &str, names: &[String]) {
        self.options_read
            .lock()
            .unwrap()
            .entry(part.to_string())
            .or_default()
            .extend(names.iter().cloned());
    }

    fn config_get(&self, section: &str, option: &str) -> Option<String> {
        if section == "buildout" {
            self.used_buildout_options.lock().unwrap().push(option.to_string());
        }
        self.snapshot.lock().unwrap().get(section)?.get(option).cloned()
    }

    fn download(
        &self,
        url: &str,
        sha256: Option<&str>,
        md5: Option<&str>,
        host_allowed: crate::runtime::HostCheck,
    ) -> Result<PathBuf, String> {
        crate::plan::download::fetch(url, sha256, md5, &self.download_cache, self.offline, host_allowed)
    }

    fn python_install(&self, part: &str, requirements: &[String]) -> Result<Vec<Installed>, String> {
        let settings = self.install_settings(part)?;
        self.install_locked(part, requirements, &settings)
    }

    /// The interpreter `part` installs for and writes into scripts: its own
    /// `executable`, else that of its `python` section; permitted by the trust
    /// boundary (bo runs it).
    fn python_executable(&self, part: &str) -> Result<String, String> {
        let own = self.snapshot.lock().unwrap().get(part).and_then(|o| o.get("executable")).cloned();
        let executable = own.unwrap_or_else(|| {
            let python = self.option(part, "python").unwrap_or_else(|| "buildout".into());
            self.snapshot
                .lock()
                .unwrap()
                .get(&python)
                .and_then(|o| o.get("executable"))
                .cloned()
                .unwrap_or_else(crate::config::default_executable)
        });
        self.interpreters.permit(part, &executable)
    }

    fn buildout_directory(&self) -> PathBuf {
        self.directory.clone()
    }

    fn log(&self, part: &str, level: Level, message: &str) {
        super::recipe_log::print(part, level, message, self.verbose, self.quiet);
    }
}

/// Buildout's report of picked versions (`show-picked-versions`,
/// `update-versions-file`): a `[versions]` block, with `# Required by:` comments for
/// distributions that something else asked for.
pub fn format_picked_versions(picked: &BTreeMap<String, (String, Vec<String>)>) -> Vec<String> {
    let mut output = vec!["[versions]".to_string()];
    let mut required = Vec::new();
    // Names and versions come from an index's metadata: only what a distribution
    // name or version can be goes into a file (no spaces, `|`, newlines).
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+!".contains(c));
    for (name, (version, by)) in picked.iter().filter(|(n, (v, _))| plain(n) && plain(v)) {
        // Requirers go into comment lines: no line breaks.
        let by: Vec<String> = by.iter().filter(|b| !b.chars().any(char::is_control)).cloned().collect();
        if by.is_empty() {
            output.push(format!("{name} = {version}"));
        } else {
            required.push(String::new());
            required.push("# Required by:".to_string());
            let mut by = by.clone();
            by.sort();
            for b in by {
                required.push(format!("# {b}"));
            }
            required.push(format!("{name} = {version}"));
        }
    }
    output.extend(required);
    output
}
