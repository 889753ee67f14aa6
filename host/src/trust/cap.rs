//! File work bo does for a part (host services, scripts, undoing a failed install,
//! uninstall) goes through directory handles opened once per call, never through a
//! path string that was checked and is then reopened. A handle is a `cap_std::fs::Dir`
//! on one directory the part may write (or read); every operation is relative to it,
//! and cap-std refuses any path, `..` or symlink that would lead out of it. So a
//! part running beside this one (`-j`) that swaps a directory for a link between a
//! check and a use gains nothing.

use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// Open handles on a part's directories, each with the absolute path it was opened
/// at (lexical, as the grant names it).
pub struct Dirs {
    dirs: Vec<(PathBuf, Dir)>,
}

/// The part of `path` below `root`, if it lies there and is made of plain names
/// only (no `..`, no `.`).
fn below(root: &Path, path: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(root).ok()?;
    rest.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| rest.to_path_buf())
}

impl Dirs {
    /// Opens every directory of `dirs` that exists (longest first, so the most
    /// specific handle serves a path).
    pub fn open(dirs: &[PathBuf]) -> Dirs {
        let mut sorted: Vec<&PathBuf> = dirs.iter().collect();
        sorted.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
        sorted.dedup();
        let dirs = sorted
            .into_iter()
            .filter_map(|d| Dir::open_ambient_dir(d, ambient_authority()).ok().map(|h| (d.clone(), h)))
            .collect();
        Dirs { dirs }
    }

    /// The handle covering `path` and the path relative to it. The empty relative
    /// path is the directory itself.
    pub fn locate(&self, path: &Path) -> Option<(&Dir, PathBuf)> {
        self.dirs.iter().find_map(|(root, dir)| below(root, path).map(|rest| (dir, rest)))
    }

    /// Whether `path` lies in one of the directories (lexically).
    pub fn covers(&self, path: &Path) -> bool {
        self.locate(path).is_some()
    }

    /// Removes the file, link or directory tree at `path` without following links.
    /// `Ok(false)` if it is not in these directories (left alone), or is one of
    /// them.
    pub fn remove(&self, path: &Path) -> std::io::Result<bool> {
        let Some((dir, rest)) = self.locate(path) else { return Ok(false) };
        if rest.as_os_str().is_empty() {
            return Ok(false);
        }
        match dir.symlink_metadata(&rest) {
            Ok(meta) if meta.is_dir() => dir.remove_dir_all(&rest).map(|_| true),
            Ok(_) => dir.remove_file(&rest).map(|_| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Creates `path`'s directory and every missing parent, inside a handle.
    pub fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        if rest.as_os_str().is_empty() {
            return Ok(());
        }
        dir.create_dir_all(&rest)
    }

    /// Writes `bytes` to the file `path` (replacing a file or link there, never
    /// writing through a link), creating its parents, with permission bits `mode`.
    pub fn write_file(&self, path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        let name = rest.file_name().ok_or_else(not_covered)?.to_owned();
        let parent = rest.parent().unwrap_or(Path::new(""));
        if !parent.as_os_str().is_empty() {
            dir.create_dir_all(parent)?;
        }
        let tmp_name = crate::fsutil::temp_path_beside(Path::new(&name));
        let tmp = parent.join(tmp_name.file_name().unwrap_or_default());
        let mut options = cap_std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        let result = dir.open_with(&tmp, &options).and_then(|mut file| {
            std::io::Write::write_all(&mut file, bytes)?;
            if let Some(mode) = mode {
                set_mode_of(&file, mode)?;
            }
            Ok(())
        });
        match result.and_then(|_| dir.rename(&tmp, dir, parent.join(&name))) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = dir.remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Makes the symbolic link `path` pointing at `target` (which the caller
    /// checked), inside a handle: the link's parent is opened without following
    /// links, and an existing entry is never replaced.
    pub fn symlink(&self, target: &Path, path: &Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        let name = rest.file_name().ok_or_else(not_covered)?.to_owned();
        let parent = rest.parent().unwrap_or(Path::new(""));
        let parent_dir = if parent.as_os_str().is_empty() {
            dir.try_clone()?
        } else {
            dir.open_dir(parent)?
        };
        let target = std::ffi::CString::new(target.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
        let name = std::ffi::CString::new(name.as_bytes()).map_err(std::io::Error::other)?;
        // cap-std keeps `open_dir` inside the handle (no escape through a link).
        // SAFETY: both strings are NUL-terminated and the descriptor is open.
        let rc = unsafe { libc::symlinkat(target.as_ptr(), parent_dir.as_raw_fd(), name.as_ptr()) };
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }

    /// Sets the permission bits of `path` (never setuid, setgid or sticky), refusing
    /// a link.
    pub fn set_mode(&self, path: &Path, mode: u32) -> std::io::Result<()> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        let meta = if rest.as_os_str().is_empty() {
            dir.dir_metadata()?
        } else {
            dir.symlink_metadata(&rest)?
        };
        if meta.file_type().is_symlink() {
            return Err(std::io::Error::other("it is a symlink"));
        }
        if rest.as_os_str().is_empty() {
            // The handle's own directory: through its parent.
            return set_mode_entry(path, mode);
        }
        if meta.is_dir() {
            // A link swapped in after the check can only lead inside the handle.
            return dir.set_permissions(&rest, permissions(mode));
        }
        let mut options = cap_std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let file = dir.open_with(&rest, &options)?;
        set_mode_of(&file, mode)
    }

    /// Reads the whole file at `path` through a handle (links inside are followed
    /// only while they stay inside).
    pub fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        dir.read(&rest)
    }

    /// A handle on the directory `path` (created if missing), inside a handle.
    pub fn open_dir(&self, path: &Path) -> std::io::Result<Dir> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        if rest.as_os_str().is_empty() {
            return dir.try_clone();
        }
        dir.create_dir_all(&rest)?;
        dir.open_dir(&rest)
    }

    /// Opens the file `path` for reading, inside a handle.
    pub fn open_file(&self, path: &Path) -> std::io::Result<std::fs::File> {
        let (dir, rest) = self.locate(path).ok_or_else(not_covered)?;
        Ok(dir.open(&rest)?.into_std())
    }

    /// Lists the entries of the directory `path` (absolute paths).
    pub fn entries(&self, path: &Path) -> Vec<PathBuf> {
        let Some((dir, rest)) = self.locate(path) else { return Vec::new() };
        let listing = if rest.as_os_str().is_empty() {
            dir.entries()
        } else {
            dir.read_dir(&rest)
        };
        listing.into_iter().flatten().flatten().map(|e| path.join(e.file_name())).collect()
    }
}

/// Removes the directory tree, file or link at `path` through a handle on its
/// parent (for a part's own writable directory, which no handle of the part
/// covers). A link is removed, never followed.
pub fn remove_entry(path: &Path) -> std::io::Result<()> {
    let (dir, name) = parent_handle(path)?;
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => dir.remove_dir_all(name),
        Ok(_) => dir.remove_file(name),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the directory `path` if it is empty (through a handle on its parent).
pub fn remove_empty_dir(path: &Path) -> std::io::Result<()> {
    let (dir, name) = parent_handle(path)?;
    dir.remove_dir(name)
}

/// Sets the permission bits of the directory `path` through a handle on its
/// parent (a directory bo prepared for the part), refusing a link.
pub fn set_mode_entry(path: &Path, mode: u32) -> std::io::Result<()> {
    let (dir, name) = parent_handle(path)?;
    if dir.symlink_metadata(name)?.file_type().is_symlink() {
        return Err(std::io::Error::other("it is a symlink"));
    }
    dir.set_permissions(name, permissions(mode))
}

/// A handle on `path`'s parent directory and `path`'s name in it (for a
/// directory of the part's own, which none of its handles covers).
fn parent_handle(path: &Path) -> std::io::Result<(Dir, &std::ffi::OsStr)> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(not_covered());
    };
    Ok((Dir::open_ambient_dir(parent, ambient_authority())?, name))
}

fn not_covered() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, "not in a directory this part may write")
}

#[cfg(unix)]
fn set_mode_of(file: &cap_std::fs::File, mode: u32) -> std::io::Result<()> {
    use cap_std::fs::PermissionsExt;
    file.set_permissions(cap_std::fs::Permissions::from_mode(mode & 0o777))
}

#[cfg(not(unix))]
fn set_mode_of(_: &cap_std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Permission bits only: no setuid, setgid or sticky bits.
fn permissions(mode: u32) -> cap_std::fs::Permissions {
    #[cfg(unix)]
    {
        use cap_std::fs::PermissionsExt;
        cap_std::fs::Permissions::from_mode(mode & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        cap_std::fs::Permissions::from_std(std::fs::metadata(".").unwrap().permissions())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_leads_out_of_a_handle() {
        let tmp = tempfile::tempdir().unwrap();
        let part = tmp.path().join("part");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&part).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(&outside, part.join("link")).unwrap();
        let dirs = Dirs::open(std::slice::from_ref(&part));
        assert!(dirs.write_file(&part.join("link/secret"), b"x", None).is_err());
        assert!(dirs.set_mode(&part.join("link/secret"), 0o777).is_err());
        assert!(dirs.read(&part.join("link/secret")).is_err());
        assert!(dirs.write_file(&part.join("../outside/x"), b"x", None).is_err());
        assert!(!dirs.remove(&outside.join("secret")).unwrap());
        // Removing the link removes the link, not what it points to.
        assert!(dirs.remove(&part.join("link")).unwrap());
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "s");
        dirs.write_file(&part.join("a/b/c"), b"ok", Some(0o4755)).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(part.join("a/b/c")).unwrap().permissions());
        assert_eq!(mode & 0o7777, 0o755);
    }
}
