//! bo's own file plumbing, the lowest layer (nothing here imports another bo
//! module): lexical path normalisation, bo's cache root, unique temporary names
//! and atomic writes. Every place bo writes its own files (state, lock, caches,
//! the grants file) goes through [`write_atomically`]: a new temporary file
//! (`O_EXCL`, so a planted link is not followed) renamed over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Lexically normalised absolute path (Python's `os.path.abspath`).
pub fn abspath(base: &Path, path: &Path) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// bo's cache root: `BO_CACHE_DIR`, else `$XDG_CACHE_HOME/bo`, else `~/.cache/bo`
/// (the user's environment decides; no configuration value can move it).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BO_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("bo");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("bo")
}

/// A fresh temporary path in `target`'s directory (for write-then-rename), unique
/// across processes and threads.
pub fn temp_path_beside(target: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written file. The temporary file is new (`O_EXCL`: a planted link there is
/// not followed) and the rename replaces a link at `path` rather than writing
/// through it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path_beside(path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_data()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Takes an exclusive lock on the file `path` (created if missing, never through
/// a link), waiting for another holder; `on_wait` is called once if it must wait.
/// The lock lasts as long as the returned file is open.
pub fn lock_file(path: &Path, on_wait: impl FnOnce()) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = options.open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            on_wait();
            file.lock()?;
            Ok(file)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
