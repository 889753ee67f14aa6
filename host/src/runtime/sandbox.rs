//! The WASI context of one recipe call: exactly the part's grant (its preopens,
//! the variables it may see), nothing inherited from bo; for the classic-recipe
//! runner also a scratch `/tmp` and a read-only skeleton of `/`.

use std::path::{Path, PathBuf};

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::trust::grants::PartGrant;

/// The WASI context for one call: exactly the part's grant, nothing inherited. Also
/// returns the directories it had to create (outermost first), since a preopen
/// needs an existing directory.
pub(super) fn sandbox(
    grant: &PartGrant,
    scratch: Option<&Path>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
) -> Result<(WasiCtx, Vec<PathBuf>), String> {
    let mut builder = WasiCtxBuilder::new();
    builder.stdout(stdout).stderr(stderr).allow_blocking_current_thread(true);
    if let Some(scratch) = scratch {
        // `/tmp` of the call's own, and `/` as a read-only skeleton of empty
        // directories leading to the preopens: Python code walks paths from the
        // root (`os.path.exists('/')`, omelette's makedirs), which WASI has not.
        // The longest preopen wins, so the real directories still serve their paths.
        let (tmp, skeleton) = (scratch.join("tmp"), scratch.join("root"));
        for dir in grant
            .read
            .iter()
            .chain(&grant.write)
            .map(PathBuf::as_path)
            .chain([Path::new("/tmp")])
        {
            let inside = dir.strip_prefix("/").unwrap_or(dir);
            std::fs::create_dir_all(skeleton.join(inside)).map_err(|e| format!("cannot prepare the sandbox: {e}"))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot prepare the sandbox: {e}"))?;
        program_stand_ins(grant, &skeleton, &mut builder)?;
        builder
            .preopened_dir(&skeleton, "/", FsPerms::ReadOnly)
            .map_err(|e| format!("cannot open {}: {e:#}", skeleton.display()))?;
        builder
            .preopened_dir(&tmp, "/tmp", FsPerms::ReadWrite)
            .map_err(|e| format!("cannot open {}: {e:#}", tmp.display()))?;
        builder.env("TMPDIR", "/tmp");
    }
    for (name, value) in grant.visible_env() {
        builder.env(name, value);
    }
    if let Some(entry) = &grant.entry {
        builder.env("BO_RECIPE_ENTRY", entry);
    }
    for (name, value) in &grant.runner_env {
        builder.env(name, value);
    }
    for dir in &grant.read {
        preopen(&mut builder, dir, FsPerms::ReadOnly)?;
    }
    let mut prepared = Vec::new();
    for dir in &grant.write {
        let mut missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| a.symlink_metadata().is_err())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        prepared.extend(missing);
        preopen(&mut builder, dir, FsPerms::ReadWrite)?;
    }
    Ok((builder.build(), prepared))
}

/// Granted programs as empty executable files at their real paths in the
/// skeleton, with PATH naming their directories: recipes look programs up
/// (`shutil.which("git")`) before they run them; the runner maps the path back to
/// the granted name (BO_CLASSIC_PROGRAMS) and bo runs the real one, confined.
fn program_stand_ins(grant: &PartGrant, skeleton: &Path, builder: &mut WasiCtxBuilder) -> Result<(), String> {
    let mut programs = serde_json::Map::new();
    let mut path: Vec<String> = Vec::new();
    for name in grant.declared.programs.iter().filter(|p| *p != "*") {
        if grant.check_program(name).is_err() {
            continue;
        }
        let Some(found) = super::host::find_program(name).filter(|p| p.is_absolute()) else {
            continue;
        };
        let stand_in = skeleton.join(found.strip_prefix("/").unwrap_or(&found));
        if let Some(dir) = stand_in.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot prepare the sandbox: {e}"))?;
        }
        if !stand_in.exists() {
            std::fs::write(&stand_in, b"").map_err(|e| format!("cannot prepare the sandbox: {e}"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755));
            }
        }
        let dir = found.parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
        if !path.contains(&dir) {
            path.push(dir);
        }
        programs.insert(found.to_string_lossy().into_owned(), serde_json::Value::String(name.clone()));
    }
    builder.env("PATH", path.join(":"));
    builder.env("BO_CLASSIC_PROGRAMS", serde_json::Value::Object(programs).to_string());
    Ok(())
}

fn preopen(builder: &mut WasiCtxBuilder, dir: &Path, perms: FsPerms) -> Result<(), String> {
    let guest = dir.to_string_lossy().into_owned();
    builder
        .preopened_dir(dir, &guest, perms)
        .map_err(|e| format!("cannot open {}: {e:#}", dir.display()))?;
    Ok(())
}
