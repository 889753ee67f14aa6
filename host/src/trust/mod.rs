//! The trust boundary: the one place that decides what an untrusted input may make
//! bo do with its own, unsandboxed hands. See `docs/security.md` for the model.
//!
//! - **Trusted**: the user (command line, `~/.buildout/default.cfg` and what it
//!   extends, the grants file, the environment), bo's binary, caches and state.
//! - **Untrusted**: every file reached from the buildout configuration, every recipe
//!   component, everything a recipe returns, and what indexes, registries and
//!   download servers named by the configuration answer.
//!
//! Each `[buildout]` value knows its origin; the functions here turn an untrusted
//! value into a permitted action (a directory bo may write, an interpreter bo may
//! run, a URL bo may fetch, a local file bo may read as configuration) or refuse it
//! with the `--grant` that would allow it. The WASM sandbox guards what recipes do
//! themselves.
//!
//! - [`grants`]: what a recipe declares, what the user grants, and where they meet.
//! - [`settings`]: `[buildout]` settings that make bo write or execute.
//! - [`cap`]: file work for parts through directory handles (cap-std).
//! - [`extends`]: which configuration files and URLs a configuration may pull in.
//! - [`grants_file`]: the user's grants file: where it is, reading it, `bo grant`.
//! - [`network`]: which hosts a part's `python.install` may reach.
//! - [`places`]: which directories a recipe may be given to write.

pub mod cap;
pub mod extends;
pub mod grants;
pub mod grants_file;
pub mod network;
pub mod places;
pub mod settings;

use std::path::{Component, Path, PathBuf};

use crate::config::Config;
use crate::config::layers::Origin;

/// The pseudo-part that grants for the configuration itself are given to
/// (`--grant buildout:outside=DIR`, `buildout:host=HOST`, `buildout:program=PATH`).
pub const CONFIG_GRANTEE: &str = "buildout";

/// Whether a value set at `origin` comes from the user rather than the
/// configuration tree: the command line, or the user's own defaults file and what
/// it extends, as bo reached them (a file's place proves nothing: bo itself writes
/// files a configuration chose under `~/.buildout` when the eggs store is there).
pub fn is_users(origin: Option<&Origin>) -> bool {
    match origin {
        Some(Origin::CommandLine) => true,
        Some(Origin::File { users, .. }) => *users,
        _ => false,
    }
}

/// Whether `section:option` of `config` was set by the user (see [`is_users`]).
/// A default or computed value is as trusted as `directory`, which it derives from.
pub fn set_by_user(config: &Config, section: &str, option: &str) -> bool {
    match config.origin_of(section, option) {
        None | Some(Origin::Default | Origin::Computed) if section == "buildout" && option != "directory" => {
            set_by_user(config, "buildout", "directory")
        }
        origin => is_users(origin) || matches!(origin, None | Some(Origin::Default | Origin::Computed)),
    }
}

/// The directory of the user's defaults file (`~/.buildout`), resolved.
pub fn user_defaults_dir() -> Option<PathBuf> {
    let file = crate::config::user_config_path()?;
    Some(canonical(file.parent()?))
}

/// Your environment a program bo runs natively sees (a granted program, a source
/// build): `PATH`, the locale and the terminal; nothing else (no `BASH_ENV`,
/// `MAKEFLAGS`, `GIT_CONFIG_*`, `TAR_OPTIONS`, credentials...).
pub fn program_environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| matches!(k.as_str(), "PATH" | "LANG" | "LANGUAGE" | "TERM" | "TZ") || k.starts_with("LC_"))
        .collect()
}

/// `path` made absolute and lexically normalised, then resolved as far as it exists
/// (symlinks included); the missing rest is appended as written.
pub fn canonical(path: &Path) -> PathBuf {
    let lexical = crate::fsutil::abspath(&std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")), path);
    let mut existing = lexical.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let rest = lexical.strip_prefix(existing).unwrap_or(Path::new(""));
            return if rest.as_os_str().is_empty() { real } else { real.join(rest) };
        }
        match existing.parent() {
            Some(parent) => existing = parent,
            None => return lexical,
        }
    }
}

/// The first component of `path` below `root` that names a hidden directory
/// (`.git`, `.hg`, `.ssh`, ...): VCS metadata is code (`.git/hooks`), and other
/// dot-directories hold tools' settings and secrets.
pub fn hidden_component(root: &Path, path: &Path) -> Option<String> {
    let below = path.strip_prefix(root).ok()?;
    below.components().find_map(|c| match c {
        Component::Normal(name) if name.to_string_lossy().starts_with('.') => Some(name.to_string_lossy().into_owned()),
        _ => None,
    })
}

/// bo's own cache root, resolved: no configuration value or recipe may make bo
/// write there (the precompiled code in it is executed).
pub fn bo_cache_root() -> PathBuf {
    canonical(&default_cache_dir())
}

pub use crate::fsutil::default_cache_dir;
