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

use cap_std::ambient_authority;
use cap_std::fs::Dir;

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
    Dir::open_ambient_dir(dir, ambient_authority())
        .and_then(|d| d.read_to_string("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
        .and_then(|doc| doc.get("project")?.get("name")?.as_str().map(String::from))
        .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

/// Where the project's importable code lies, opened: its `src/` if it has one,
/// else its root. `project` is the handle on the project's (canonical) directory
/// `dir`; `src` may be a link only within it (cap-std refuses one leading out, as
/// `src -> ~` would have bo write the metadata into the home directory).
fn location(project: &Dir, dir: &Path) -> Result<(Dir, PathBuf), String> {
    match project.symlink_metadata("src") {
        Ok(meta) if meta.is_dir() || meta.file_type().is_symlink() => {
            let handle = project
                .open_dir("src")
                .map_err(|e| format!("{}/src: bo uses only a source directory inside the project: {e}", dir.display()))?;
            let real = std::fs::canonicalize(dir.join("src")).map_err(|e| format!("{}/src: {e}", dir.display()))?;
            if !real.starts_with(dir) {
                return Err(format!("{}/src leads out of the project", dir.display()));
            }
            Ok((handle, real))
        }
        _ => Ok((project.try_clone().map_err(|e| e.to_string())?, dir.to_path_buf())),
    }
}

fn modified(dir: &Dir, name: &str) -> Option<std::time::SystemTime> {
    dir.metadata(name).and_then(|m| m.modified()).ok().map(|t| t.into_std())
}

/// Whether `name` is one plain `*.dist-info` directory name (not a path, not hidden).
fn is_dist_info_name(name: &str) -> bool {
    crate::trust::grants::is_file_name(name) && !name.starts_with('.') && name.ends_with(".dist-info")
}

/// The `.dist-info` directory in `location`, if there is one and it is newer than
/// every build file of the project.
fn fresh_dist_info(project: &Dir, location: &Dir) -> Option<String> {
    let newest_input = ["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .filter_map(|f| modified(project, f))
        .max()?;
    let mut found: Vec<String> = location
        .entries()
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_dist_info_name(n))
        .collect();
    if found.len() != 1 {
        return None;
    }
    let name = found.pop()?;
    let dist_info = location.open_dir(&name).ok()?;
    (modified(&dist_info, "METADATA")? >= newest_input).then_some(name)
}

fn read_dist_info(location: &Dir, name: &str, path: PathBuf) -> Result<DevelopDist, String> {
    let shown = path.join(name);
    let dist_info = location.open_dir(name).map_err(|e| format!("{}: {e}", shown.display()))?;
    let text = dist_info
        .read_to_string("METADATA")
        .map_err(|e| format!("{}: {e}", shown.join("METADATA").display()))?;
    let metadata = metadata::parse(&text)?;
    let version = metadata.version.clone();
    let entry_points = dist_info.read_to_string("entry_points.txt").unwrap_or_default();
    Ok(DevelopDist {
        name: metadata.name.clone(),
        version,
        location: path,
        console_scripts: super::wheel::console_scripts(&entry_points),
        metadata,
    })
}

/// Asks the backend for the project's metadata in `scratch` (see the module
/// comment) and returns the handle on the `.dist-info` it made, with its name.
/// The backend names it: only one plain `*.dist-info` directory it made in the
/// scratch directory is taken (an absolute path or `..` would have bo copy a
/// directory of yours into the tree).
fn build_metadata(
    dir: &Path,
    python: &str,
    path: &[PathBuf],
    system: &sdist::BuildSystem,
    scratch: &Path,
    env: &sdist::HookEnv,
) -> Result<(Dir, String), String> {
    let open = |p: &Path| Dir::open_ambient_dir(p, ambient_authority()).map_err(|e| format!("{}: {e}", p.display()));
    let made = sdist::run_hook(python, dir, system, path, "prepare_metadata_for_build_wheel", Some(scratch), env)?;
    let (parent, name) = match made.as_str() {
        Some(name) => (open(scratch)?, name.to_string()),
        None => {
            // No metadata hook: build a wheel and take its .dist-info.
            let wheels = scratch.join("wheel");
            std::fs::create_dir_all(&wheels).map_err(|e| e.to_string())?;
            let built = sdist::run_hook(python, dir, system, path, "build_wheel", Some(&wheels), env)?;
            let built = built.as_str().unwrap_or_default();
            let wheel = wheels.join(built);
            let plain = crate::trust::grants::is_file_name(built) && !built.starts_with('.') && built.ends_with(".whl");
            if !plain || !std::fs::symlink_metadata(&wheel).is_ok_and(|m| m.file_type().is_file()) {
                return Err(format!(
                    "build_wheel returned {built:?}, not a wheel it made in the output directory"
                ));
            }
            let unpacked = scratch.join("unpacked");
            crate::archive::extract(&wheel, &unpacked, false, false).map_err(|e| e.to_string())?;
            let handle = open(&unpacked)?;
            let name = handle
                .entries()
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.ends_with(".dist-info"))
                .ok_or("the built wheel has no .dist-info")?;
            (handle, name)
        }
    };
    let is_dir = parent.symlink_metadata(&name).is_ok_and(|m| m.is_dir());
    if !is_dist_info_name(&name) || !is_dir {
        return Err(format!(
            "prepare_metadata_for_build_wheel returned {name:?}, not a .dist-info directory it made in {}",
            scratch.display()
        ));
    }
    let dist_info = parent.open_dir(&name).map_err(|e| e.to_string())?;
    Ok((dist_info, name))
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
    // Every file bo touches for the project goes through a handle on its real
    // directory: the build runs in it, and the checkout may hold links.
    let dir = std::fs::canonicalize(dir).map_err(|e| fail(e.to_string()))?;
    let project = Dir::open_ambient_dir(&dir, ambient_authority()).map_err(|e| fail(e.to_string()))?;
    let (location_dir, location_path) = location(&project, &dir).map_err(&fail)?;
    let dist = match fresh_dist_info(&project, &location_dir) {
        Some(name) => read_dist_info(&location_dir, &name, location_path.clone()).map_err(&fail)?,
        None => {
            let system = sdist::build_system(&dir).map_err(&fail)?;
            let path = sdist::build_environment(python, &dir, &system, install, env).map_err(&fail)?;
            let scratch = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
            let (made, name) = build_metadata(&dir, python, &path, &system, scratch.path(), env).map_err(&fail)?;
            // The build could write its source tree (make `src` a link): where the
            // metadata goes is found again, after it ran.
            let (location_dir, location_path) = location(&project, &dir).map_err(&fail)?;
            // Replace any older .dist-info of the project beside its code.
            for old in location_dir.entries().into_iter().flatten().flatten() {
                let old_name = old.file_name();
                if !old_name.to_string_lossy().ends_with(".dist-info") {
                    continue;
                }
                let _ = match old.file_type() {
                    Ok(t) if t.is_dir() => location_dir.remove_dir_all(&old_name),
                    _ => location_dir.remove_file(&old_name),
                };
            }
            let shown = location_path.join(&name);
            let copied = location_dir
                .create_dir(&name)
                .and_then(|_| location_dir.open_dir(&name))
                .and_then(|target| copy_dir(&made, &target, Path::new(&name)));
            if let Err(e) = copied {
                // Nothing half-copied is left to be taken as the project's metadata.
                let _ = location_dir.remove_dir_all(&name);
                return Err(fail(format!("cannot write {}: {e}", shown.display())));
            }
            read_dist_info(&location_dir, &name, location_path.clone()).map_err(&fail)?
        }
    };
    std::fs::create_dir_all(develop_eggs).map_err(|e| fail(e.to_string()))?;
    let link = develop_eggs.join(format!("{}.egg-link", dist.name));
    let text = format!("{}\n.", dist.location.display());
    if std::fs::read_to_string(&link).ok().as_deref() != Some(text.as_str()) {
        crate::fsutil::write_atomically(&link, text.as_bytes()).map_err(|e| fail(format!("cannot write {}: {e}", link.display())))?;
    }
    Ok(dist)
}

/// Copies the directory tree `from` into the new, empty `to`: directories and
/// regular files only. A link is refused, not followed (a backend's
/// `STOLEN -> ~/.ssh/id_rsa` would have bo copy your key into the tree).
fn copy_dir(from: &Dir, to: &Dir, shown: &Path) -> std::io::Result<()> {
    for entry in from.entries()?.flatten() {
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            to.create_dir(&name)?;
            copy_dir(&from.open_dir(&name)?, &to.open_dir(&name)?, &shown.join(&name))?;
        } else if kind.is_file() {
            let mut source = from.open(&name)?;
            let mut options = cap_std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            let mut target = to.open_with(&name, &options)?;
            std::io::copy(&mut source, &mut target)?;
        } else {
            return Err(std::io::Error::other(format!(
                "the build's metadata holds {}, which is not a file or directory (bo copies no links)",
                shown.join(&name).display()
            )));
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
