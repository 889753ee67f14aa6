//! zc.recipe.egg's `:custom` and `:develop` builds: a distribution built from its
//! source with distutils `build_ext` options (include and library directories,
//! rpath, macros, libraries) and environment variables, as Buildout builds one
//! with `setup.py build_ext`. The options reach setuptools through a config file
//! named by `DIST_EXTRA_CONFIG`, read as the project's `setup.cfg` is, so a PEP 517
//! build with setuptools honours them; the result goes into the develop-eggs
//! directory, and the resolver then prefers it, for every part, as Buildout does.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::Requirement;

use super::develop::{self, DevelopDist};
use super::index::Index;
use super::{InstallSettings, metadata, sdist, wheel};

/// `build_ext` options zc.recipe.egg passes on (its option names).
pub const BUILD_EXT_OPTIONS: &[&str] = &[
    "include-dirs",
    "library-dirs",
    "rpath",
    "define",
    "undef",
    "libraries",
    "link-objects",
    "debug",
    "force",
    "compiler",
    "swig",
    "swig-cpp",
    "swig-opts",
];

/// What a custom build uses besides the source.
pub struct CustomBuild {
    /// (zc.recipe.egg option name, value), values as zc.recipe.egg normalised them.
    pub build_ext: Vec<(String, String)>,
    pub environment: Vec<(String, String)>,
    /// The buildout directory: include and library directories are readable to
    /// the build only inside it.
    pub tree: PathBuf,
}

impl CustomBuild {
    /// The environment of the build hooks: the part's variables, DIST_EXTRA_CONFIG
    /// naming a `[build_ext]` file written in `scratch`, and the include and library
    /// directories the confined build may read: only those inside the buildout
    /// directory and in no hidden directory there, since
    /// the configuration names them (`include-dirs = ~/.ssh` would put a key into
    /// the wheel); the system's are readable anyway.
    fn hook_env(&self, scratch: &Path) -> Result<sdist::HookEnv, String> {
        let tree = crate::trust::canonical(&self.tree);
        let mut text = String::from("[build_ext]\n");
        let mut read = Vec::new();
        for (name, value) in &self.build_ext {
            if !BUILD_EXT_OPTIONS.contains(&name.as_str()) {
                return Err(format!("{name} is not a build_ext option zc.recipe.egg passes on"));
            }
            // One line each: a value may not add sections to the file.
            if value.contains(['\n', '\r']) {
                return Err(format!("option {name}: one line expected, got {value:?}"));
            }
            if matches!(name.as_str(), "include-dirs" | "library-dirs" | "rpath") {
                read.extend(
                    std::env::split_paths(value)
                        .filter(|p| p.is_absolute())
                        .map(|p| crate::trust::canonical(&p))
                        .filter(|p| p.starts_with(&tree) && crate::trust::hidden_component(&tree, p).is_none()),
                );
            }
            text.push_str(&format!("{} = {value}\n", name.replace('-', "_")));
        }
        let file = scratch.join("build_ext.cfg");
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let mut vars = Vec::new();
        for (name, value) in &self.environment {
            // The variables may not steer which interpreter, libraries or build
            // environment run, nor replace bo's own (the build is confined anyway).
            let upper = name.to_ascii_uppercase();
            if upper == "PATH"
                || upper.starts_with("LD_")
                || upper.starts_with("DYLD_")
                || upper.starts_with("PYTHON")
                || upper.starts_with("_PYTHON")
                || upper.starts_with("BO_")
                || sdist::BO_VARIABLES.contains(&upper.as_str())
                || matches!(upper.as_str(), "BASH_ENV" | "ENV")
                || name.contains(['=', '\0'])
            {
                return Err(format!("the environment may not set {name}"));
            }
            vars.push((name.clone(), value.clone()));
        }
        vars.push(("DIST_EXTRA_CONFIG".into(), file.to_string_lossy().into_owned()));
        Ok(sdist::HookEnv { vars, read })
    }
}

fn granted(settings: &InstallSettings, project: &str) -> Result<(), String> {
    let normalized = metadata::normalize(project);
    if settings
        .allow_build
        .iter()
        .any(|p| p == "*" || metadata::normalize(p) == normalized)
    {
        return Ok(());
    }
    Err(format!(
        "building {project} runs its build code on this machine: grant it with `--grant {}:build={project}`",
        settings.part
    ))
}

fn install_build_requirements(settings: &InstallSettings) -> impl Fn(&[String]) -> Result<Vec<PathBuf>, String> + '_ {
    move |requirements: &[String]| {
        let build_settings = InstallSettings {
            resolve: super::ResolveSettings {
                pins: Default::default(),
                ..settings.resolve.clone()
            },
            ..settings.clone()
        };
        Ok(super::install(requirements, &build_settings)?
            .into_iter()
            .map(|d| d.location)
            .collect())
    }
}

/// zc.recipe.egg:custom: builds `requirement` from its newest fitting source
/// distribution (as pinned) into `develop_eggs`.
pub fn build_custom(
    requirement: &str,
    build: &CustomBuild,
    settings: &InstallSettings,
    develop_eggs: &Path,
) -> Result<DevelopDist, String> {
    let parsed = Requirement::from_str(requirement).map_err(|e| format!("invalid requirement {requirement:?}: {e}"))?;
    let project = parsed.name.to_string();
    granted(settings, &project)?;
    let name = metadata::normalize(&project);
    let (specifiers, _) = super::resolve::constrain(&parsed, settings.resolve.pins.get(&name))?;
    let index = Index::new(settings.index.clone());
    let candidates = index.candidates(&project)?;
    let mut sdists: Vec<_> = candidates
        .iter()
        .filter(|c| c.wheel.is_none() && !c.yanked && specifiers.contains(&c.version))
        .collect();
    if settings.resolve.prefer_final && sdists.iter().any(|c| !c.version.any_prerelease()) {
        sdists.retain(|c| !c.version.any_prerelease());
    }
    let sdist = sdists
        .into_iter()
        .max_by(|a, b| a.version.cmp(&b.version))
        .ok_or_else(|| format!("Couldn't find a source distribution for '{requirement}' (a custom build is made from source)"))?;
    let file = index.fetch(sdist)?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let env = build.hook_env(scratch.path())?;
    let install = install_build_requirements(settings);
    let built = sdist::build_wheel(&file, &settings.executable, &settings.index.cache.join("built"), &install, &env)?;
    std::fs::create_dir_all(develop_eggs).map_err(|e| format!("cannot create {}: {e}", develop_eggs.display()))?;
    let installed = wheel::install(&built, develop_eggs).map_err(|e| e.to_string())?;
    Ok(DevelopDist {
        name: installed.metadata.name.clone(),
        version: installed.metadata.version.clone(),
        location: installed.location,
        console_scripts: installed.console_scripts,
        metadata: installed.metadata,
    })
}

/// zc.recipe.egg:develop: the project in `dir` as a develop egg, built with the
/// `build_ext` options.
pub fn develop_custom(dir: &Path, build: &CustomBuild, settings: &InstallSettings, develop_eggs: &Path) -> Result<DevelopDist, String> {
    granted(settings, &develop::declared_name(dir))?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let env = build.hook_env(scratch.path())?;
    let install = install_build_requirements(settings);
    develop::prepare(dir, &settings.executable, develop_eggs, &install, &env)
}
