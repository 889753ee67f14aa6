//! `[buildout] develop`: projects used from their source directory (editable). For
//! each, bo asks the project's PEP 517 backend for its metadata
//! (`prepare_metadata_for_build_wheel`, or a wheel build when the backend lacks it)
//! in a build environment bo installs itself, writes the `.dist-info` beside the
//! importable code (as `setup.py develop` wrote its `.egg-info`) and a Buildout
//! `.egg-link` into `develop-eggs`. The resolver then prefers the develop project
//! over any index, and scripts put its source directory on `sys.path`. The metadata
//! is prepared again only when `pyproject.toml`, `setup.py` or `setup.cfg` changed.
//! Preparing runs the project's build code, so it needs the user's `build` grant.

use std::path::{Path, PathBuf};

use pep440_rs::Version;

use super::metadata::{self, Metadata};
use super::sdist;

/// A develop project, ready for resolution and scripts.
#[derive(Debug, Clone)]
pub struct DevelopDist {
    pub name: String,
    pub version: Version,
    /// What goes on `sys.path`: the project's `src/` if it has one, else its root.
    pub location: PathBuf,
    pub metadata: Metadata,
    pub console_scripts: Vec<(String, String)>,
}

/// The project's name as `pyproject.toml` states it, else its directory's name (for
/// the grant, before any build code runs).
pub fn declared_name(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
        .and_then(|doc| doc.get("project")?.get("name")?.as_str().map(String::from))
        .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

fn location(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    if src.is_dir() { src } else { dir.to_path_buf() }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A `.dist-info` in `location` newer than every build file of `dir`, if any.
fn fresh_dist_info(dir: &Path, location: &Path) -> Option<PathBuf> {
    let newest_input = ["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .filter_map(|f| modified(&dir.join(f)))
        .max()?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(location)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dist-info"))
        .collect();
    if found.len() != 1 {
        return None;
    }
    let dist_info = found.pop()?;
    (modified(&dist_info.join("METADATA"))? >= newest_input).then_some(dist_info)
}

fn read_dist_info(dist_info: &Path, location: PathBuf) -> Result<DevelopDist, String> {
    let text = std::fs::read_to_string(dist_info.join("METADATA")).map_err(|e| format!("{}: {e}", dist_info.display()))?;
    let metadata = metadata::parse(&text)?;
    let version = metadata.version.clone();
    let entry_points = std::fs::read_to_string(dist_info.join("entry_points.txt")).unwrap_or_default();
    Ok(DevelopDist {
        name: metadata.name.clone(),
        version,
        location,
        console_scripts: super::wheel::console_scripts(&entry_points),
        metadata,
    })
}

/// Prepares the develop project in `dir` (see the module comment). `install`
/// installs build requirements and returns their `sys.path` entries.
pub fn prepare(
    dir: &Path,
    python: &str,
    develop_eggs: &Path,
    install: &dyn Fn(&[String]) -> Result<Vec<PathBuf>, String>,
    env: &sdist::HookEnv,
) -> Result<DevelopDist, String> {
    let fail = |message: String| format!("Couldn't develop '{}': {message}", dir.display());
    let location = location(dir);
    let dist = match fresh_dist_info(dir, &location) {
        Some(dist_info) => read_dist_info(&dist_info, location.clone()).map_err(&fail)?,
        None => {
            let system = sdist::build_system(dir).map_err(&fail)?;
            let path = sdist::build_environment(python, dir, &system, install, env).map_err(&fail)?;
            let scratch = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
            let made = sdist::run_hook(
                python,
                dir,
                &system,
                &path,
                "prepare_metadata_for_build_wheel",
                Some(scratch.path()),
                env,
            )
            .map_err(&fail)?;
            let dist_info = match made.as_str() {
                Some(name) => scratch.path().join(name),
                None => {
                    // No metadata hook: build a wheel and take its .dist-info.
                    let wheels = scratch.path().join("wheel");
                    std::fs::create_dir_all(&wheels).map_err(|e| fail(e.to_string()))?;
                    let built = sdist::run_hook(python, dir, &system, &path, "build_wheel", Some(&wheels), env).map_err(&fail)?;
                    let wheel = wheels.join(built.as_str().unwrap_or_default());
                    let unpacked = scratch.path().join("unpacked");
                    crate::archive::extract(&wheel, &unpacked, false, false).map_err(|e| fail(e.to_string()))?;
                    std::fs::read_dir(&unpacked)
                        .map_err(|e| fail(e.to_string()))?
                        .flatten()
                        .map(|e| e.path())
                        .find(|p| p.extension().is_some_and(|e| e == "dist-info"))
                        .ok_or_else(|| fail("the built wheel has no .dist-info".into()))?
                }
            };
            // Replace any older .dist-info of the project beside its code.
            for old in std::fs::read_dir(&location).into_iter().flatten().flatten().map(|e| e.path()) {
                if old.extension().is_some_and(|e| e == "dist-info") {
                    let _ = std::fs::remove_dir_all(&old);
                }
            }
            let target = location.join(dist_info.file_name().unwrap_or_default());
            copy_dir(&dist_info, &target).map_err(|e| fail(format!("cannot write {}: {e}", target.display())))?;
            read_dist_info(&target, location.clone()).map_err(&fail)?
        }
    };
    std::fs::create_dir_all(develop_eggs).map_err(|e| fail(e.to_string()))?;
    let link = develop_eggs.join(format!("{}.egg-link", dist.name));
    let text = format!("{}\n.", location.display());
    if std::fs::read_to_string(&link).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&link, text).map_err(|e| fail(format!("cannot write {}: {e}", link.display())))?;
    }
    Ok(dist)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Removes `.egg-link` files in `develop_eggs` of projects no longer developed.
pub fn remove_stale_links(develop_eggs: &Path, keep: &[DevelopDist]) {
    for entry in std::fs::read_dir(develop_eggs).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".egg-link")) else {
            continue;
        };
        if !keep.iter().any(|d| d.name == stem) {
            let _ = std::fs::remove_file(&path);
        }
    }
}
