//! Source distributions. When no wheel of a project fits the target interpreter, bo
//! builds one from the project's sdist through its PEP 517 backend: it unpacks the
//! sdist, installs the backend's requirements (`[build-system] requires`, then what
//! `get_requires_for_build_wheel` asks for) as wheels into the store itself (no pip),
//! runs the backend with the target interpreter in isolated mode with exactly those
//! distributions on `sys.path`, and caches the built wheel by the sdist's sha256 and
//! the interpreter. Building runs the project's own code on this machine, so the
//! caller only gets here with the user's `build` grant for the project, and every
//! hook runs confined (see [`Confiner`]): it reads the system, the interpreter, its
//! build environment and its source, writes only its source tree and output, and
//! has no network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Runs one PEP 517 hook: `python -I -c SHIM BACKEND HOOK RESULT_FILE [WHEEL_DIR]`,
/// with `BO_BUILD_PATH` (the build environment) and `BO_BACKEND_PATH` (in-tree
/// backends) put first on `sys.path`. The result goes to a file, since backends
/// print freely on stdout.
const SHIM: &str = r#"
import importlib, json, os, sys
sys.path[0:0] = [p for p in os.environ.get("BO_BACKEND_PATH", "").split(os.pathsep) if p]
sys.path[0:0] = [p for p in os.environ.get("BO_BUILD_PATH", "").split(os.pathsep) if p]
spec, hook, result = sys.argv[1], sys.argv[2], sys.argv[3]
module, _, attrs = spec.partition(":")
backend = importlib.import_module(module)
for attr in filter(None, attrs.split(".")):
    backend = getattr(backend, attr)
if hook == "get_requires_for_build_wheel":
    found = getattr(backend, hook, None)
    value = found({}) if found else []
elif hook == "prepare_metadata_for_build_wheel":
    found = getattr(backend, hook, None)
    value = found(sys.argv[4], {}) if found else None
else:
    value = backend.build_wheel(sys.argv[4], {})
with open(result, "w") as f:
    json.dump(value, f)
"#;

/// What a build hook may touch besides the system: the plan layer, which owns
/// program confinement, sets one for the process; with none, nothing is built
/// (never silently unconfined).
pub trait Confiner: Send + Sync {
    /// Makes `command` (running `program`) confine itself: reading `read`, writing
    /// only `write`, with a private `HOME` and `TMPDIR`. What it returns must live
    /// until the command has ended.
    fn confine(&self, command: &mut Command, program: &Path, read: &[PathBuf], write: &[PathBuf])
    -> Result<Box<dyn std::any::Any>, String>;
}

static CONFINER: OnceLock<Box<dyn Confiner>> = OnceLock::new();

/// Sets how this process confines build hooks (the first call wins).
pub fn set_confiner(confiner: Box<dyn Confiner>) {
    let _ = CONFINER.set(confiner);
}

/// What a build hook gets besides bo's own variables: the part's environment
/// variables, and directories it may also read (a custom build's include and
/// library directories).
#[derive(Debug, Clone, Default)]
pub struct HookEnv {
    pub vars: Vec<(String, String)>,
    pub read: Vec<PathBuf>,
}

/// The variables bo sets for a hook, which the part's may not replace.
pub(crate) const BO_VARIABLES: &[&str] = &[
    "BO_BUILD_PATH",
    "BO_BACKEND_PATH",
    "SOURCE_DATE_EPOCH",
    "DIST_EXTRA_CONFIG",
    "HOME",
    "TMPDIR",
];

/// bo's environment a build sees: `PATH`, the locale, and the compiler settings a
/// user gives builds (`CC`, `CFLAGS`...); not credentials or anything else.
fn build_environment_base() -> Vec<(String, String)> {
    const BUILD: &[&str] = &[
        "CC",
        "CXX",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "PKG_CONFIG_PATH",
        "MAKEFLAGS",
    ];
    let mut vars = crate::trust::program_environment();
    vars.extend(std::env::vars().filter(|(k, _)| BUILD.contains(&k.as_str())));
    vars
}

/// Where an interpreter's installation lives, as given and as resolved (a venv's
/// `bin/python` links to a base interpreter, whose standard library it uses).
fn interpreter_trees(python: &str) -> Vec<PathBuf> {
    let given = Path::new(python);
    let mut trees = Vec::new();
    for path in [Some(given.to_path_buf()), std::fs::canonicalize(given).ok()].into_iter().flatten() {
        if let Some(prefix) = path.parent().and_then(Path::parent).filter(|p| p.components().count() > 1) {
            // `~/bin/python3` would open the whole home directory: then only the
            // installation's own directories.
            let home = std::env::var_os("HOME").map(|h| crate::trust::canonical(Path::new(&h)));
            if home.as_ref().is_some_and(|h| h.starts_with(prefix)) {
                trees.extend(["bin", "lib", "lib64", "include"].map(|d| prefix.join(d)));
            } else {
                trees.push(prefix.to_path_buf());
            }
        }
    }
    trees
}

/// What PEP 518 says to build with when `pyproject.toml` says nothing.
const DEFAULT_REQUIRES: &[&str] = &["setuptools>=40.8.0"];
const DEFAULT_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// The `[build-system]` table of an unpacked sdist.
#[derive(Debug, PartialEq)]
pub(crate) struct BuildSystem {
    requires: Vec<String>,
    backend: String,
    backend_path: Vec<String>,
}

pub(crate) fn build_system(source: &Path) -> Result<BuildSystem, String> {
    let default = || BuildSystem {
        requires: DEFAULT_REQUIRES.iter().map(|s| s.to_string()).collect(),
        backend: DEFAULT_BACKEND.to_string(),
        backend_path: Vec::new(),
    };
    // Through a handle on the source: a `pyproject.toml` linking out of it (to a
    // file of yours, which a parse error would quote) is not read.
    let read =
        cap_std::fs::Dir::open_ambient_dir(source, cap_std::ambient_authority()).and_then(|dir| dir.read_to_string("pyproject.toml"));
    let text = match read {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(default()),
        Err(e) => return Err(format!("cannot read its pyproject.toml: {e}")),
    };
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("pyproject.toml: {e}"))?;
    let Some(table) = doc.get("build-system") else {
        return Ok(default());
    };
    let strings = |key: &str| -> Vec<String> {
        table
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let backend = table.get("build-backend").and_then(|v| v.as_str()).map(String::from);
    Ok(BuildSystem {
        requires: if table.get("requires").is_some() {
            strings("requires")
        } else {
            default().requires
        },
        // PEP 517: no backend named means the legacy setuptools one.
        backend: backend.unwrap_or_else(|| DEFAULT_BACKEND.to_string()),
        backend_path: strings("backend-path"),
    })
}

/// The last lines of a failed build's output, which say why.
fn tail(output: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

pub(crate) fn run_hook(
    python: &str,
    source: &Path,
    system: &BuildSystem,
    build_path: &[PathBuf],
    hook: &str,
    wheel_dir: Option<&Path>,
    env: &HookEnv,
) -> Result<serde_json::Value, String> {
    let confiner = CONFINER
        .get()
        .ok_or("bo cannot confine this build here, and does not run build code unconfined")?;
    let results = tempfile::Builder::new().prefix("bo-hook-").tempdir().map_err(|e| e.to_string())?;
    let result = results.path().join("result.json");
    let mut command = Command::new(python);
    command
        .args(["-I", "-c", SHIM, &system.backend, hook])
        .arg(&result)
        .current_dir(source)
        .env_clear()
        .envs(build_environment_base())
        // The part's variables first: bo's own, set after them, cannot be replaced.
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .env("BO_BUILD_PATH", std::env::join_paths(build_path).map_err(|e| e.to_string())?)
        .env(
            "BO_BACKEND_PATH",
            std::env::join_paths(system.backend_path.iter().map(|p| source.join(p))).map_err(|e| e.to_string())?,
        )
        .env("SOURCE_DATE_EPOCH", "315532800");
    if let Some(dir) = wheel_dir {
        command.arg(dir);
    }
    let mut read: Vec<PathBuf> = build_path.to_vec();
    read.extend(interpreter_trees(python));
    read.extend(env.read.iter().cloned());
    for (name, value) in &env.vars {
        if name == "DIST_EXTRA_CONFIG" {
            read.extend(Path::new(value).parent().map(Path::to_path_buf));
        }
    }
    let mut write = vec![source.to_path_buf(), results.path().to_path_buf()];
    write.extend(wheel_dir.map(Path::to_path_buf));
    let _confined = confiner.confine(&mut command, Path::new(python), &read, &write)?;
    let output = command.output().map_err(|e| format!("cannot run {python}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{hook} failed (backend {}):\n{}", system.backend, tail(&output)));
    }
    let text = std::fs::read_to_string(&result).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{hook} returned {text:?}: {e}"))
}

/// The build environment of a source tree: its `[build-system] requires`, then what
/// `get_requires_for_build_wheel` adds, installed through `install`; returns the
/// `sys.path` entries.
pub(crate) fn build_environment(
    python: &str,
    source: &Path,
    system: &BuildSystem,
    install: &dyn Fn(&[String]) -> Result<Vec<PathBuf>, String>,
    env: &HookEnv,
) -> Result<Vec<PathBuf>, String> {
    let mut path = install(&system.requires).map_err(|e| format!("cannot install its build requirements: {e}"))?;
    let more = run_hook(python, source, system, &path, "get_requires_for_build_wheel", None, env)?;
    let more: Vec<String> = more
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if !more.is_empty() {
        path.extend(install(&more).map_err(|e| format!("cannot install its build requirements: {e}"))?);
    }
    Ok(path)
}

/// What identifies an installed distribution by content: the sha256 of the wheel
/// bo unpacked there, else the `RECORD` files of its `.dist-info` directories
/// (bo checks every file against RECORD as it installs), else its path.
fn distribution_identity(location: &Path) -> String {
    if let Some(sha256) = super::wheel::recorded_hash(location) {
        return sha256;
    }
    let mut records: Vec<(String, Vec<u8>)> = std::fs::read_dir(location)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dist-info"))
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                std::fs::read(p.join("RECORD")).unwrap_or_default(),
            )
        })
        .collect();
    if records.is_empty() {
        return location.to_string_lossy().into_owned();
    }
    records.sort();
    let mut hasher = Sha256::new();
    for (name, record) in records {
        hasher.update(
            Path::new(&name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        hasher.update(record);
    }
    hex::encode(hasher.finalize())
}

/// Builds a wheel from `sdist` with `python`, or returns the one built before.
/// `install` installs requirements (PEP 508 strings) and returns their `sys.path`
/// entries.
pub fn build_wheel(
    sdist: &Path,
    python: &str,
    cache: &Path,
    install: &dyn Fn(&[String]) -> Result<Vec<PathBuf>, String>,
    env: &HookEnv,
) -> Result<PathBuf, String> {
    let name = sdist.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fail = |message: String| format!("building a wheel from {name} failed: {message}");
    let bytes = std::fs::read(sdist).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(cache).map_err(|e| fail(e.to_string()))?;
    let work = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(cache)
        .map_err(|e| fail(e.to_string()))?;
    let source = work.path().join("src");
    crate::archive::extract(sdist, &source, true, false).map_err(|e| fail(e.to_string()))?;
    let system = build_system(&source).map_err(&fail)?;
    // The build environment first: it is part of what makes the wheel (one
    // buildout's index must not stand in for another's setuptools through the
    // shared cache).
    let path = build_environment(python, &source, &system, install, env).map_err(&fail)?;
    let mut key = Sha256::new();
    key.update(&bytes);
    key.update(python.as_bytes());
    key.update(system.backend.as_bytes());
    for entry in &path {
        key.update(b"\0build-requirement\0");
        key.update(distribution_identity(entry).as_bytes());
    }
    // A custom build (its build_ext options, its environment) is another build.
    for (name, value) in &env.vars {
        key.update(format!("\0{name}=").as_bytes());
        // A config file counts by what it says, not where it was written.
        match name.as_str() {
            "DIST_EXTRA_CONFIG" => key.update(std::fs::read(value).unwrap_or_default()),
            _ => key.update(value.as_bytes()),
        }
    }
    let key = hex::encode(key.finalize());
    let done = cache.join(&key[..24]);
    if let Some(wheel) = std::fs::read_dir(&done)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl") && std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()))
    {
        return Ok(wheel);
    }
    crate::progress::println(&format!("Building a wheel from {name} ({})", system.backend));
    let out = work.path().join("dist");
    std::fs::create_dir_all(&out).map_err(|e| fail(e.to_string()))?;
    let built = run_hook(python, &source, &system, &path, "build_wheel", Some(&out), env).map_err(&fail)?;
    let built = built.as_str().ok_or_else(|| fail(format!("build_wheel returned {built}")))?;
    // The backend names a file in the output directory: one plain wheel name and
    // a regular file there (not a path or a link to a file of yours elsewhere).
    let made = out.join(built);
    let plain = crate::trust::grants::is_file_name(built) && !built.starts_with('.') && built.ends_with(".whl");
    if !plain || !std::fs::symlink_metadata(&made).is_ok_and(|m| m.file_type().is_file()) {
        return Err(fail(format!(
            "build_wheel returned {built:?}, not a wheel it made in the output directory"
        )));
    }
    // Kept only once complete: a rename of the whole directory.
    let staged = work.path().join("done");
    std::fs::create_dir_all(&staged).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(out.join(built), staged.join(built)).map_err(|e| fail(e.to_string()))?;
    match std::fs::rename(&staged, &done) {
        Ok(()) => {}
        // Another build finished first: use its wheel.
        Err(_) if done.is_dir() => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    Ok(done.join(built))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_system_defaults_follow_pep_517_and_518() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(build_system(dir.path()).unwrap().backend, DEFAULT_BACKEND);
        std::fs::write(dir.path().join("pyproject.toml"), "[tool.x]\na = 1\n").unwrap();
        assert_eq!(build_system(dir.path()).unwrap().requires, vec!["setuptools>=40.8.0"]);
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"flit_core>=3.2\"]\nbuild-backend = \"flit_core.buildapi\"\nbackend-path = [\".\"]\n",
        )
        .unwrap();
        assert_eq!(
            build_system(dir.path()).unwrap(),
            BuildSystem {
                requires: vec!["flit_core>=3.2".into()],
                backend: "flit_core.buildapi".into(),
                backend_path: vec![".".into()],
            }
        );
    }
}
