//! Removing what a part installed: only what the part could write (its writable
//! directories, through directory handles that never follow a link out, and the
//! directories bo made above them once empty); anything else a state file records
//! is left, and reported.

use std::path::{Path, PathBuf};

/// Lists the entries of `dirs` (non-recursively), to undo a failed install.
pub(super) fn list_entries(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
        .collect()
}

/// Removes the paths a part recorded, but only what the part could write: paths
/// in its writable directories (through directory handles, never following a link
/// out), those directories themselves, and the directories bo made inside the
/// buildout to hold them. Anything else in a state file is left, and reported.
pub(super) fn remove_recorded(paths: &str, directory: &Path, writable: &[PathBuf]) {
    let dirs = crate::trust::cap::Dirs::open(writable);
    let mut ancestors = Vec::new();
    for line in paths.split('\n').filter(|l| !l.is_empty()) {
        let path = crate::config::abspath(directory, Path::new(line));
        let removed = if dirs.covers(&path) && !writable.contains(&path) {
            dirs.remove(&path).map_err(|e| e.to_string())
        } else if writable.contains(&path) {
            crate::trust::cap::remove_entry(&path).map(|_| true).map_err(|e| e.to_string())
        } else if writable.iter().any(|w| w.starts_with(&path))
            && path.starts_with(directory)
            && path != directory
            && crate::trust::hidden_component(directory, &path).is_none()
        {
            // A directory bo made to hold the part's: removed only once empty
            // (it may hold other parts' directories, e.g. `parts` itself).
            ancestors.push(path);
            continue;
        } else {
            Ok(false)
        };
        match removed {
            Ok(true) => {}
            Ok(false) => crate::progress::eprintln(&format!(
                "warning: not removing {line}: it is not in a directory the part could write (the recipe's own files go in parts/ or its declared outputs)"
            )),
            Err(e) => crate::progress::eprintln(&format!("warning: cannot remove {line}: {e}")),
        }
    }
    // From each writable directory below up to the recorded one, each removed only
    // once empty: a directory holding anything else (another part's) stays.
    for ancestor in ancestors {
        for dir in writable.iter().filter(|w| w.starts_with(&ancestor)) {
            for step in dir.ancestors().take_while(|d| d.starts_with(&ancestor)) {
                if crate::trust::cap::remove_empty_dir(step).is_err() && step.exists() {
                    break;
                }
            }
        }
    }
}
