//! Finding the component behind `recipe = ...` and the host services a build offers
//! its recipes. A recipe reference is a path to a `.wasm` component (relative to the
//! buildout directory), or a name `project[:entry]` looked up as `project.wasm` /
//! `project-entry.wasm` in the directories of `BO_RECIPE_PATH`, then among the
//! recipes bundled in bo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indexmap::IndexMap;

use crate::runtime::{HostServices, Level};

#[derive(Debug, Clone, PartialEq)]
pub struct RecipeSource {
    /// The reference as written in the config.
    pub reference: String,
    pub path: PathBuf,
}

/// Resolves a `recipe` option to a component file.
pub fn resolve(reference: &str, buildout_dir: &Path) -> Result<RecipeSource, String> {
    let reference = reference.trim();
    if reference.starts_with("oci://") {
        return Err(format!("recipe {reference}: OCI references are not supported by this build of bo yet"));
    }
    if reference.ends_with(".wasm") || reference.contains('/') {
        let path = buildout_dir.join(reference);
        return if path.is_file() {
            Ok(RecipeSource { reference: reference.to_string(), path })
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
    let file = match entry {
        Some(entry) if entry != "default" => format!("{project}-{entry}.wasm"),
        _ => format!("{project}.wasm"),
    };
    let mut looked = Vec::new();
    for dir in std::env::var_os("BO_RECIPE_PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default() {
        let candidate = dir.join(&file);
        if candidate.is_file() {
            return Ok(RecipeSource { reference: reference.to_string(), path: candidate });
        }
        looked.push(dir.display().to_string());
    }
    let bundled = bundled_dir().join(&file);
    if bundled.is_file() {
        return Ok(RecipeSource { reference: reference.to_string(), path: bundled });
    }
    looked.push(bundled_dir().display().to_string());
    Err(format!("recipe {reference}: no component {file} (looked in {})", looked.join(", ")))
}

/// Where bundled recipes live: `<prefix>/share/bo/recipes` beside the `bo` binary,
/// or `BO_BUNDLED_RECIPES`.
pub fn bundled_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BO_BUNDLED_RECIPES") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let prefix = exe.parent().and_then(Path::parent).unwrap_or(Path::new("/usr/local"));
    prefix.join("share").join("bo").join("recipes")
}

/// Host services for one build: the config view, downloads, and the log.
pub struct BuildServices {
    pub snapshot: Mutex<HashMap<String, IndexMap<String, String>>>,
    pub used_buildout_options: Mutex<Vec<String>>,
    pub download_cache: PathBuf,
    pub offline: bool,
    pub quiet: bool,
}

impl HostServices for BuildServices {
    fn config_get(&self, section: &str, option: &str) -> Option<String> {
        if section == "buildout" {
            self.used_buildout_options.lock().unwrap().push(option.to_string());
        }
        self.snapshot.lock().unwrap().get(section)?.get(option).cloned()
    }

    fn download(&self, url: &str, sha256: Option<&str>, md5: Option<&str>) -> Result<PathBuf, String> {
        crate::plan::download::fetch(url, sha256, md5, &self.download_cache, self.offline)
    }

    fn log(&self, part: &str, level: Level, message: &str) {
        match level {
            Level::Debug => {}
            Level::Info if self.quiet => {}
            Level::Info => println!("{part}: {message}"),
            Level::Warning => println!("{part}: warning: {message}"),
            Level::Error => eprintln!("{part}: error: {message}"),
        }
    }
}
