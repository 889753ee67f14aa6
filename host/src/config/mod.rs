//! The configuration language: reading `buildout.cfg` and what it extends, merging
//! layers, and evaluating values lazily. This module owns everything between a file
//! on disk and a resolved `section -> option -> value`; it runs no recipes and does no
//! I/O beyond reading config files (and the interpreter probe for conditions).
//!
//! - [`parser`]: one file's text to raw sections (Buildout's INI dialect).
//! - [`condition`]: `[section:expression]` headers; [`target`]: the interpreter they test.
//! - [`layers`]: extends, user defaults, command line; value histories.
//! - [`eval`]: macros, `${}` substitution, lazy evaluation, part discovery.
//! - [`annotate`]: `bo annotate` and `bo query` output.
//! - [`error`]: typed errors naming file and line or section and option.

pub mod annotate;
pub mod condition;
pub mod error;
pub mod eval;
pub mod fetch;
pub mod layers;
mod opener;
pub mod parser;
pub mod target;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use error::{ConfigError, ConfigErrorKind};
pub use eval::{Evaluator, RawConfig, RawSection};
pub use layers::{Annotated, Layer, Origin, Section};

/// The zc.buildout release whose behaviour bo reproduces; Buildout pins itself to at
/// least its own version in `[versions]`, and bo injects the same default.
pub const BUILDOUT_COMPAT_VERSION: &str = "6.0.1";

/// `[buildout]` options every configuration has (Buildout's `_buildout_default_options`).
pub const DEFAULT_OPTIONS: &[(&str, &str)] = &[
    ("allow-hosts", "*"),
    ("allow-picked-versions", "true"),
    ("bin-directory", "bin"),
    ("develop-eggs-directory", "develop-eggs"),
    ("eggs-directory", "eggs"),
    ("eggs-directory-version", "v5"),
    ("executable", ""),
    ("find-links", ""),
    ("install-from-cache", "false"),
    ("installed", ".installed.cfg"),
    ("log-format", ""),
    ("log-level", "INFO"),
    ("newest", "true"),
    ("offline", "false"),
    ("parts-directory", "parts"),
    ("prefer-final", "true"),
    ("python", "buildout"),
    ("show-picked-versions", "false"),
    ("socket-timeout", ""),
    ("update-versions-file", ""),
    ("use-dependency-links", "true"),
    ("allow-unknown-extras", "false"),
];

/// What the command line says about loading: Buildout's `-c`, `-U` and assignments.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `-c FILE`, relative to `cwd`.
    pub config_file: PathBuf,
    /// False with `-U`.
    pub use_user_defaults: bool,
    /// `section:option=value` assignments and their flag equivalents (`-N`, `-o`...),
    /// with `+`/`-` kept on the option for `+=`/`-=`.
    pub assignments: Vec<(String, String, String)>,
    pub cwd: PathBuf,
    /// The user defaults file; `None` means `$BUILDOUT_HOME/default.cfg` or
    /// `~/.buildout/default.cfg`.
    pub user_config: Option<PathBuf>,
    /// What the configuration may read through `extends` (the trust boundary's
    /// policy); `None` reads whatever it names.
    pub read_policy: Option<std::sync::Arc<dyn layers::ReadPolicy>>,
}

impl LoadOptions {
    pub fn new(cwd: impl Into<PathBuf>) -> Self {
        LoadOptions {
            config_file: PathBuf::from("buildout.cfg"),
            use_user_defaults: true,
            assignments: Vec::new(),
            cwd: cwd.into(),
            user_config: None,
            read_policy: None,
        }
    }
}

/// A merged configuration, before evaluation: annotated values (for `annotate`) and
/// raw values (for `query` and evaluation).
#[derive(Debug, Clone)]
pub struct Config {
    pub annotated: Layer,
    pub raw: RawConfig,
    /// The buildout directory: where the config file lives.
    pub directory: PathBuf,
    pub config_file: PathBuf,
    /// Lines to show on stdout that reading produced (optional-extends notices).
    pub notices: Vec<String>,
}

fn initializing(kind: ConfigErrorKind) -> ConfigError {
    ConfigError::with_doing(kind, &["Initializing.".to_string()])
}

fn with_initializing(mut e: ConfigError) -> ConfigError {
    e.doing.insert(0, "Initializing.".to_string());
    e
}

/// The user defaults file Buildout reads unless `-U` is given.
pub fn user_config_path() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("BUILDOUT_HOME") {
        return Some(PathBuf::from(home).join("default.cfg"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".buildout").join("default.cfg"))
}

/// The interpreter that `executable` defaults to: `BO_PYTHON`, else `python3` on PATH.
pub fn default_executable() -> String {
    if let Ok(python) = std::env::var("BO_PYTHON") {
        return python;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("python3");
        if candidate.is_file() {
            let found = candidate.to_string_lossy().into_owned();
            // A version manager's shim (pyenv) is not the interpreter: Buildout
            // writes `sys.executable`, the one the shim resolves to (asked once,
            // remembered under the interpreter's fingerprint).
            if found.contains("/shims/")
                && let Some(real) = condition::TargetEnv::probe_python(&found).and_then(|env| env.executable)
            {
                return real;
            }
            return found;
        }
    }
    "python3".to_string()
}

pub use crate::fsutil::abspath;

fn expand_user(path: &str) -> String {
    if path == "~" || path.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return format!("{}{}", home.to_string_lossy(), &path[1..]);
        }
    }
    path.to_string()
}

impl Config {
    /// Reads and merges the configuration (Buildout's `Buildout.__init__` up to the
    /// point where sections are evaluated).
    pub fn load(options: &LoadOptions) -> Result<Config, ConfigError> {
        Self::load_with(options, &mut layers::UrlFetcher::default())
    }

    pub fn load_with(options: &LoadOptions, fetcher: &mut dyn layers::ConfigFetcher) -> Result<Config, ConfigError> {
        let config_file = abspath(&options.cwd, &options.config_file);
        if !config_file.exists() {
            return Err(initializing(ConfigErrorKind::MissingConfig { path: config_file }));
        }
        let directory = config_file.parent().map(Path::to_path_buf).unwrap_or_default();

        let mut defaults = Section::new();
        for (name, value) in DEFAULT_OPTIONS {
            let value = if *name == "executable" {
                default_executable()
            } else {
                value.to_string()
            };
            defaults.insert(name.to_string(), Annotated::new(value, Origin::Default));
        }
        defaults.insert(
            "directory".into(),
            Annotated::new(directory.to_string_lossy().into_owned(), Origin::Computed),
        );
        let mut data = Layer::new();
        data.insert("buildout".into(), defaults);

        // Command-line options, grouped by section. Buildout sorts the triples first,
        // so of two assignments to one option the greater value wins; kept as is.
        let mut assignments = options.assignments.clone();
        assignments.sort();
        let mut command_line = Layer::new();
        for (section, option, value) in assignments {
            command_line
                .entry(section)
                .or_default()
                .insert(option, Annotated::new(value, Origin::CommandLine));
        }

        let mut target_env: Option<condition::TargetEnv> = None;
        let mut condition = |expr: &str| {
            let env = target_env.get_or_insert_with(condition::TargetEnv::probe);
            condition::evaluate(expr, env)
        };
        let mut opener = layers::Opener {
            fetcher,
            condition: &mut condition,
            notices: Vec::new(),
            download_base: data["buildout"].clone(),
            download_override: command_line.get("buildout").cloned().unwrap_or_default(),
            parsed: Default::default(),
            texts: Default::default(),
            permitted: Default::default(),
            expanded: Default::default(),
            seen_keys: Vec::new(),
            real_names: Default::default(),
            policy: options.read_policy.as_deref(),
            trusted: true,
        };

        let mut user_defaults = Layer::new();
        if options.use_user_defaults {
            let user_config = options.user_config.clone().or_else(user_config_path);
            if let Some(user_config) = user_config.filter(|p| p.exists()) {
                let base = user_config.parent().unwrap_or(Path::new("/")).to_string_lossy().into_owned();
                user_defaults = opener
                    .open_root(&base, &user_config.to_string_lossy(), Layer::new())
                    .map_err(with_initializing)?;
                opener.download_base = layers::update(&data, &user_defaults)["buildout"].clone();
            }
        }

        let base = directory.to_string_lossy().into_owned();
        // The file the user named is read; what it extends is the configuration's
        // choice, and the read policy is asked first.
        opener.trusted = false;
        let file_data = opener
            .open_root(&base, &config_file.to_string_lossy(), user_defaults.clone())
            .map_err(with_initializing)?;
        // A file named on the command line is the user's in its location, like
        // the `-c` file; what it extends is asked for, like the `-c` file's.
        data = layers::update(&data, &file_data);

        if let Some(extends) = command_line.get_mut("buildout").and_then(|b| b.shift_remove("extends")) {
            for name in extends.value.split_whitespace() {
                let path = Path::new(name);
                let dir = path.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                let dir = if dir.is_empty() {
                    options.cwd.to_string_lossy().into_owned()
                } else {
                    dir
                };
                let extra = opener.open_root(&dir, &file, user_defaults.clone()).map_err(with_initializing)?;
                data = layers::update(&data, &extra);
            }
        }
        let notices = std::mem::take(&mut opener.notices);
        data = layers::update(&data, &command_line);

        let buildout = data.get_mut("buildout").unwrap();
        if !buildout.contains_key("versions") {
            buildout.insert("versions".into(), Annotated::new("versions", Origin::Default));
            data.entry("versions".to_string()).or_default();
        }
        let versions_name = data["buildout"]["versions"].value.clone();
        if !versions_name.is_empty() {
            let Some(versions) = data.get_mut(&versions_name) else {
                return Err(initializing(ConfigErrorKind::MissingVersionsSection(versions_name)));
            };
            if !versions.contains_key("zc.buildout") {
                let pin = format!(">={BUILDOUT_COMPAT_VERSION}");
                versions.insert("zc.buildout".into(), Annotated::new(pin, Origin::Default));
            }
            if !versions.contains_key("zc.recipe.egg") {
                versions.insert("zc.recipe.egg".into(), Annotated::new(">=2.0.6", Origin::Default));
            }
        }

        // `directory` may be set by a file or the command line; the other standard
        // directories are then based on it, as in Buildout.
        let directory = match data["buildout"].get("directory") {
            Some(d) if !d.value.contains("${") && !d.value.is_empty() => abspath(&options.cwd, Path::new(&d.value)),
            _ => directory,
        };
        // Cache directories are relative to the file that set them.
        let buildout = data.get_mut("buildout").unwrap();
        for name in ["download-cache", "eggs-directory", "extends-cache"] {
            let Some(key) = buildout.get_mut(name) else { continue };
            let original = key.value.clone();
            if original.contains("${") || Path::new(&original).is_absolute() {
                continue;
            }
            let base_dir = match key.origin() {
                Origin::File { path, .. } if layers::is_url(path) => {
                    return Err(initializing(ConfigErrorKind::AmbiguousRemoteDirectory {
                        name: name.to_string(),
                        value: original,
                        source_url: path.clone(),
                    }));
                }
                Origin::File { path, .. } => Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default(),
                _ => directory.clone(),
            };
            let expanded = expand_user(&original);
            let absolute = abspath(&base_dir, Path::new(&expanded));
            key.set_directory(absolute.to_string_lossy().into_owned());
        }

        let mut raw: RawConfig = data
            .iter()
            .map(|(name, section)| {
                let values: RawSection = section.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect();
                (name.clone(), values)
            })
            .collect();
        let buildout_raw = raw.get_mut("buildout").unwrap();
        for name in ["bin-directory", "parts-directory", "eggs-directory", "develop-eggs-directory"] {
            if let Some(value) = buildout_raw.get_mut(name)
                && !value.contains("${")
            {
                *value = directory.join(&*value).to_string_lossy().into_owned();
            }
        }

        Ok(Config {
            annotated: data,
            raw,
            directory,
            config_file,
            notices,
        })
    }

    /// Where `section:option` was last set, as `file:line` or a `*_VALUE` label.
    pub fn origin_of(&self, section: &str, option: &str) -> Option<&Origin> {
        self.annotated.get(section)?.get(option).map(Annotated::origin)
    }

    /// Starts evaluation: `[buildout]` is always evaluated and checked, as Buildout
    /// does at start-up, even for `annotate` and `query`.
    pub fn evaluate(&self) -> Result<Session<'_>, ConfigError> {
        let mut ev = Evaluator::new(&self.raw);
        let settings = ev.doing("Initializing.".to_string(), |ev| BuildoutSettings::initialize(ev, &self.raw))?;
        Ok(Session { evaluator: ev, settings })
    }
}

/// The `[buildout]` options bo acts on, validated.
#[derive(Debug, Clone)]
pub struct BuildoutSettings {
    pub directory: PathBuf,
    pub offline: bool,
    pub newest: bool,
    pub versions_section: String,
    pub bin_directory: PathBuf,
    pub parts_directory: PathBuf,
    pub eggs_directory: PathBuf,
    pub develop_eggs_directory: PathBuf,
    pub installed: Option<PathBuf>,
    pub prefer_final: bool,
    pub allow_picked_versions: bool,
    pub show_picked_versions: bool,
    pub install_from_cache: bool,
    pub verbosity: i64,
}

/// Buildout's `bool_option`: exactly `true` or `false`.
pub fn bool_option(ev: &Evaluator<'_>, value: Option<&str>, name: &str, default: bool) -> Result<bool, ConfigError> {
    match value {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ev.error(ConfigErrorKind::InvalidBool {
            name: name.to_string(),
            value: other.to_string(),
        })),
    }
}

impl BuildoutSettings {
    fn initialize(ev: &mut Evaluator<'_>, raw: &RawConfig) -> Result<Self, ConfigError> {
        let raw_buildout = &raw["buildout"];
        let raw_bool = |ev: &Evaluator<'_>, name: &str| bool_option(ev, raw_buildout.get(name).map(String::as_str), name, false);
        let offline = raw_bool(ev, "offline")?;
        let newest = !offline && raw_bool(ev, "newest")?;

        ev.section("buildout")?;
        let directory = PathBuf::from(ev.require("buildout", "directory")?);
        let mut dirs = Vec::new();
        for name in ["bin-directory", "parts-directory", "eggs-directory", "develop-eggs-directory"] {
            let value = ev.require("buildout", name)?;
            let path = directory.join(&value);
            ev.set("buildout", name, path.to_string_lossy().into_owned());
            dirs.push(path);
        }
        let installed = ev.require("buildout", "installed")?;
        let installed = if installed.is_empty() {
            None
        } else {
            let path = directory.join(&installed);
            ev.set("buildout", "installed", path.to_string_lossy().into_owned());
            Some(path)
        };

        let level = ev.require("buildout", "log-level")?;
        if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level.as_str()) && level.trim().parse::<i64>().is_err() {
            return Err(ev.error(ConfigErrorKind::InvalidLogLevel(level)));
        }
        let verbosity = ev.get("buildout", "verbosity", None)?.unwrap_or_else(|| "0".into());
        let verbosity: i64 = verbosity
            .trim()
            .parse()
            .map_err(|_| ev.error(ConfigErrorKind::Other(format!("Invalid verbosity {verbosity}"))))?;

        let versions_section = ev.require("buildout", "versions")?;
        if !versions_section.is_empty() {
            ev.section(&versions_section)?;
        }
        let flag = |ev: &mut Evaluator<'_>, name: &str, default: bool| -> Result<bool, ConfigError> {
            let value = ev.get("buildout", name, None)?;
            bool_option(ev, value.as_deref(), name, default)
        };
        let prefer_final = flag(ev, "prefer-final", true)?;
        flag(ev, "use-dependency-links", true)?;
        let allow_picked_versions = flag(ev, "allow-picked-versions", true)?;
        let show_picked_versions = flag(ev, "show-picked-versions", false)?;
        ev.require("buildout", "update-versions-file")?;

        let mut eggs_directory = dirs[2].clone();
        let eggs_version = ev.require("buildout", "eggs-directory-version")?;
        if !eggs_version.is_empty() {
            eggs_directory = eggs_directory.join(eggs_version);
        }
        if flag(ev, "abi-tag-eggs", false)? {
            eggs_directory = eggs_directory.join(python_abi_tag());
        }
        ev.set("buildout", "eggs-directory", eggs_directory.to_string_lossy().into_owned());

        let install_from_cache = flag(ev, "install-from-cache", false)?;
        if install_from_cache && offline {
            return Err(ev.error(ConfigErrorKind::Other(
                "install-from-cache can't be used with offline mode.\nNothing is installed, even from cache, in offline\nmode, which might better be called 'no-install mode'.\n".into(),
            )));
        }
        // "Use" every default so none is reported as unused.
        for (name, _) in DEFAULT_OPTIONS {
            ev.get("buildout", name, None)?;
        }
        Ok(BuildoutSettings {
            directory,
            offline,
            newest,
            versions_section,
            bin_directory: dirs[0].clone(),
            parts_directory: dirs[1].clone(),
            eggs_directory,
            develop_eggs_directory: dirs[3].clone(),
            installed,
            prefer_final,
            allow_picked_versions,
            show_picked_versions,
            install_from_cache,
            verbosity,
        })
    }
}

/// The ABI tag Buildout appends with `abi-tag-eggs = true` (e.g. `cp311`).
fn python_abi_tag() -> String {
    let env = condition::TargetEnv::probe();
    let prefix = if env.implementation == "PyPy" { "pp" } else { "cp" };
    format!("{prefix}{}{}", env.python_version.0, env.python_version.1)
}

/// An evaluation in progress: `[buildout]` done, other sections on demand.
pub struct Session<'c> {
    pub evaluator: Evaluator<'c>,
    pub settings: BuildoutSettings,
}

/// Resolution of every section, for `bo query --json`: resolved values, and the
/// options that could not be resolved (with why), never invented.
#[derive(Debug, Default, serde::Serialize)]
pub struct Resolution {
    pub sections: IndexMap<String, IndexMap<String, String>>,
    pub unresolved: IndexMap<String, IndexMap<String, String>>,
}

impl Session<'_> {
    /// Resolves every section of the configuration, sorted by name. A section that
    /// fails as a whole still yields the options that resolve on their own.
    pub fn resolve_all(&mut self) -> Resolution {
        let mut resolution = Resolution::default();
        let raw = self.evaluator.raw();
        let mut names: Vec<&String> = raw.keys().collect();
        names.sort();
        for name in names {
            let ev = &mut self.evaluator;
            let section_error = ev.section(name).err();
            if !ev.is_evaluated(name) {
                continue;
            }
            let mut keys = ev.keys(name);
            keys.sort();
            let mut values = IndexMap::new();
            let mut failures = IndexMap::new();
            for key in keys {
                match ev.get(name, &key, None) {
                    Ok(Some(v)) => {
                        values.insert(key, v);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        failures.insert(key, e.kind.to_string());
                    }
                }
            }
            if let Some(e) = section_error
                && failures.is_empty()
            {
                failures.insert("<".to_string(), e.kind.to_string());
            }
            if !failures.is_empty() {
                resolution.unresolved.insert(name.clone(), failures);
            }
            resolution.sections.insert(name.clone(), values);
        }
        resolution
    }
}
