//! Unpacking archives for recipes (the `extract` host service): `.tar`, `.tar.gz` /
//! `.tgz`, `.tar.bz2` / `.tbz2`, `.tar.xz` / `.txz` and `.zip`, recognised by their
//! first bytes, not their names. Entries that would land outside the destination
//! (absolute paths, `..`, links pointing out) are refused, the archive is unpacked
//! into a temporary directory beside the destination first, and only a complete
//! result is moved into place, so a bad archive leaves nothing behind.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Component, Path, PathBuf};

/// Why an archive could not be unpacked, naming the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read archive {archive}: {message}")]
    Read { archive: String, message: String },
    #[error("archive {archive} holds {entry:?}, which would be written outside {destination}")]
    Escapes {
        archive: String,
        entry: String,
        destination: String,
    },
    #[error("archive {archive}: unknown format (expected tar, tar.gz, tar.bz2, tar.xz or zip)")]
    UnknownFormat { archive: String },
    #[error("cannot strip the top-level directory of {archive}: it holds {count} entries at the top, not one directory")]
    NotOneTopLevel { archive: String, count: usize },
    #[error("cannot unpack {archive}: {target} already exists (remove it, or let the recipe replace existing files)")]
    Exists { archive: String, target: String },
    #[error("archive {archive} unpacks to more than {} MiB; refusing to go on", limit >> 20)]
    TooLarge { archive: String, limit: u64 },
    #[error("unpacking {archive} ran past the recipe's time limit")]
    TimedOut { archive: String },
    #[error("cannot unpack {archive} into {destination}: {message}")]
    Write {
        archive: String,
        destination: String,
        message: String,
    },
}

/// What one extraction may cost: bytes unpacked, and a deadline (a recipe's time
/// limit). A compressed archive of a few hundred KiB can unpack to gigabytes.
pub struct Budget {
    pub max_bytes: u64,
    pub used: u64,
    pub deadline: Option<std::time::Instant>,
}

/// Unpacked bytes allowed by default: 8 GiB.
pub const MAX_UNPACKED: u64 = 8 << 30;

impl Budget {
    /// The default limit, or `BO_MAX_UNPACKED` (bytes) from the user's environment.
    pub fn new(deadline: Option<std::time::Instant>) -> Budget {
        let max_bytes = std::env::var("BO_MAX_UNPACKED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(MAX_UNPACKED);
        Budget {
            max_bytes,
            used: 0,
            deadline,
        }
    }

    /// Counts `bytes` more; an error if over the limit or past the deadline.
    fn spend(&mut self, bytes: u64, archive: &str) -> Result<(), ArchiveError> {
        if self.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(ArchiveError::TimedOut {
                archive: archive.to_string(),
            });
        }
        self.used = self.used.saturating_add(bytes);
        if self.used > self.max_bytes {
            return Err(ArchiveError::TooLarge {
                archive: archive.to_string(),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// A writer that refuses to write more than `left` bytes (decompressing xz to disk).
struct Capped<W> {
    inner: W,
    left: u64,
}

impl<W: std::io::Write> std::io::Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other("the archive unpacks to more than allowed"));
        }
        let n = self.inner.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

enum Format {
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zip,
}

fn sniff(head: &[u8]) -> Option<Format> {
    Some(match head {
        [0x1f, 0x8b, ..] => Format::Gzip,
        [b'B', b'Z', b'h', ..] => Format::Bzip2,
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Format::Xz,
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Format::Zip,
        _ if head.len() >= 262 && &head[257..262] == b"ustar" => Format::Tar,
        _ => return None,
    })
}

/// A relative path with no `..`, root or prefix, or `None`.
pub(crate) fn safe_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Whether a link at `entry` (relative to the root) pointing to `target` stays inside.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = entry.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Unpacks `archive` into `destination` (created if missing). With `strip_top_level`,
/// the archive must hold one top-level directory, whose contents are unpacked
/// (hexagonit's `strip-top-level-dir`). Entries already at the destination are an
/// error unless `replace_existing`. Returns the top-level paths created (not the
/// replaced ones).
pub fn extract(archive: &Path, destination: &Path, strip_top_level: bool, replace_existing: bool) -> Result<Vec<PathBuf>, ArchiveError> {
    let write_error = |e: std::io::Error| ArchiveError::Write {
        archive: archive.display().to_string(),
        destination: destination.display().to_string(),
        message: e.to_string(),
    };
    let file = File::open(archive).map_err(|e| ArchiveError::Read {
        archive: archive.display().to_string(),
        message: e.to_string(),
    })?;
    let existed = destination.exists();
    std::fs::create_dir_all(destination).map_err(write_error)?;
    let dest = cap_std::fs::Dir::open_ambient_dir(destination, cap_std::ambient_authority()).map_err(write_error)?;
    let staging_parent = destination.parent().unwrap_or(Path::new("."));
    let result = extract_into(
        file,
        &archive.display().to_string(),
        &dest,
        destination,
        staging_parent,
        strip_top_level,
        replace_existing,
        &mut Budget::new(None),
    );
    if result.is_err() && !existed {
        // A bad archive leaves nothing behind.
        let _ = std::fs::remove_dir(destination);
    }
    result
}

/// Unpacks the archive `file` (named `name` in messages) into the directory handle
/// `dest` (at `destination`, for the paths returned). It is unpacked first into a
/// fresh directory in `staging_parent`, which must be on the same filesystem and
/// writable by nobody else (for a part's destination: the buildout directory, which
/// no recipe writes); the complete result is then moved in through `dest`, so a
/// destination swapped for a link cannot lead the entries elsewhere.
pub fn extract_into(
    file: File,
    name: &str,
    dest: &cap_std::fs::Dir,
    destination: &Path,
    staging_parent: &Path,
    strip_top_level: bool,
    replace_existing: bool,
    budget: &mut Budget,
) -> Result<Vec<PathBuf>, ArchiveError> {
    let name = name.to_string();
    let mut file = file;
    let read_error = |message: String| ArchiveError::Read {
        archive: name.clone(),
        message,
    };
    let write_error = |e: std::io::Error| ArchiveError::Write {
        archive: name.clone(),
        destination: destination.display().to_string(),
        message: e.to_string(),
    };
    let mut head = vec![0u8; 512];
    let n = read_up_to(&mut file, &mut head).map_err(|e| read_error(e.to_string()))?;
    head.truncate(n);
    file.rewind().map_err(|e| read_error(e.to_string()))?;
    let format = sniff(&head).ok_or_else(|| ArchiveError::UnknownFormat { archive: name.clone() })?;

    std::fs::create_dir_all(staging_parent).map_err(write_error)?;
    let staging = tempfile::Builder::new()
        .prefix(".bo-extract-")
        .tempdir_in(staging_parent)
        .map_err(write_error)?;
    let reader = BufReader::new(file);
    match format {
        Format::Zip => unpack_zip(reader, staging.path(), &name, destination, budget)?,
        Format::Tar => unpack_tar(reader, staging.path(), &name, destination, budget)?,
        Format::Gzip => unpack_tar(flate2::bufread::GzDecoder::new(reader), staging.path(), &name, destination, budget)?,
        Format::Bzip2 => unpack_tar(bzip2::bufread::BzDecoder::new(reader), staging.path(), &name, destination, budget)?,
        Format::Xz => {
            // Decoded to a file beside the staging root, within the budget (never
            // whole into memory).
            let decoded_path = staging.path().join(".bo-xz-decoded");
            let decoded = File::create(&decoded_path).map_err(write_error)?;
            let mut capped = Capped {
                inner: std::io::BufWriter::new(decoded),
                left: budget.max_bytes.saturating_sub(budget.used),
            };
            lzma_rs::xz_decompress(&mut { reader }, &mut capped).map_err(|e| read_error(e.to_string()))?;
            std::io::Write::flush(&mut capped).map_err(write_error)?;
            drop(capped);
            let unpack_root = staging.path().join(".bo-xz-root");
            std::fs::create_dir(&unpack_root).map_err(write_error)?;
            let decoded = BufReader::new(File::open(&decoded_path).map_err(write_error)?);
            unpack_tar(decoded, &unpack_root, &name, destination, budget)?;
            let _ = std::fs::remove_file(&decoded_path);
            for entry in std::fs::read_dir(&unpack_root).map_err(write_error)?.flatten() {
                std::fs::rename(entry.path(), staging.path().join(entry.file_name())).map_err(write_error)?;
            }
            std::fs::remove_dir(&unpack_root).map_err(write_error)?;
        }
    }

    let mut root = staging.path().to_path_buf();
    if strip_top_level {
        let entries: Vec<PathBuf> = std::fs::read_dir(&root).map_err(write_error)?.flatten().map(|e| e.path()).collect();
        match entries.as_slice() {
            [only] if only.symlink_metadata().is_ok_and(|m| m.is_dir()) => root = only.clone(),
            _ => {
                return Err(ArchiveError::NotOneTopLevel {
                    archive: name.clone(),
                    count: entries.len(),
                });
            }
        }
    }
    // Each link is checked where it finally lands: a chain of links, each inside on
    // its own, can still lead out, and stripping the top level moves links up one.
    if let Some(link) = link_leaving(&root) {
        return Err(ArchiveError::Escapes {
            archive: name.clone(),
            entry: link.strip_prefix(&root).unwrap_or(&link).display().to_string(),
            destination: destination.display().to_string(),
        });
    }
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&root)
        .map_err(write_error)?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    if !replace_existing && let Some(existing) = names.iter().find(|n| dest.symlink_metadata(n).is_ok()) {
        return Err(ArchiveError::Exists {
            archive: name.clone(),
            target: destination.join(existing).display().to_string(),
        });
    }
    // Moved in through the handles: the staging root (in a place no recipe writes)
    // and the destination (which may have been swapped for a link: cap-std does not
    // leave it).
    let from = cap_std::fs::Dir::open_ambient_dir(&root, cap_std::ambient_authority()).map_err(write_error)?;
    let mut created = Vec::new();
    for entry in names {
        let existed = match dest.symlink_metadata(&entry) {
            Ok(meta) if meta.is_dir() => dest.remove_dir_all(&entry).map(|_| true),
            Ok(_) => dest.remove_file(&entry).map(|_| true),
            Err(_) => Ok(false),
        }
        .map_err(write_error)?;
        from.rename(&entry, dest, &entry).map_err(write_error)?;
        if !existed {
            created.push(destination.join(&entry));
        }
    }
    Ok(created)
}

/// The first symlink under `root` that resolves (or, dangling, points) outside it.
fn link_leaving(root: &Path) -> Option<PathBuf> {
    let real_root = std::fs::canonicalize(root).ok()?;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else { continue };
            if meta.file_type().is_symlink() {
                let inside = match std::fs::canonicalize(&path) {
                    Ok(real) => real.starts_with(&real_root),
                    Err(_) => {
                        let target = std::fs::read_link(&path).unwrap_or_default();
                        let lexical = crate::fsutil::abspath(path.parent().unwrap_or(root), &target);
                        !target.is_absolute() && lexical.starts_with(root)
                    }
                };
                if !inside {
                    return Some(path);
                }
            } else if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    None
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn unpack_tar(reader: impl Read, root: &Path, archive: &str, destination: &Path, budget: &mut Budget) -> Result<(), ArchiveError> {
    let read_error = |e: std::io::Error| ArchiveError::Read {
        archive: archive.to_string(),
        message: e.to_string(),
    };
    let escapes = |entry: &Path| ArchiveError::Escapes {
        archive: archive.to_string(),
        entry: entry.display().to_string(),
        destination: destination.display().to_string(),
    };
    let mut tar = tar::Archive::new(reader);
    // Permission bits only: no setuid or setgid from an archive.
    tar.set_preserve_permissions(false);
    tar.set_overwrite(true);
    for entry in tar.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let path = entry.path().map_err(read_error)?.into_owned();
        let relative = safe_relative(&path).ok_or_else(|| escapes(&path))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        // A sparse entry unpacks to its real size, not what it stores.
        let stored = entry.header().size().unwrap_or(0);
        let real = entry.header().as_gnu().and_then(|g| g.real_size().ok()).unwrap_or(0);
        budget.spend(stored.max(real), archive)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().map_err(read_error)?.map(|t| t.into_owned()).unwrap_or_default();
            let inside = if kind.is_hard_link() {
                safe_relative(&target).is_some()
            } else {
                link_stays_inside(&relative, &target)
            };
            if !inside {
                return Err(escapes(&path));
            }
        }
        // `unpack_in` refuses `..` too, and never follows links already unpacked.
        let unpacked = entry.unpack_in(root).map_err(|e| ArchiveError::Write {
            archive: archive.to_string(),
            destination: destination.display().to_string(),
            message: format!("{}: {e}", path.display()),
        })?;
        if !unpacked {
            return Err(escapes(&path));
        }
    }
    Ok(())
}

fn unpack_zip(reader: impl Read + Seek, root: &Path, archive: &str, destination: &Path, budget: &mut Budget) -> Result<(), ArchiveError> {
    let read_error = |message: String| ArchiveError::Read {
        archive: archive.to_string(),
        message,
    };
    let write_error = |e: std::io::Error| ArchiveError::Write {
        archive: archive.to_string(),
        destination: destination.display().to_string(),
        message: e.to_string(),
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| read_error(e.to_string()))?;
    for index in 0..zip.len() {
        let mut file = zip.by_index(index).map_err(|e| read_error(e.to_string()))?;
        let name = file.name().map_err(|e| read_error(e.to_string()))?.into_owned();
        let is_symlink = file.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
        let relative = safe_relative(Path::new(&name))
            .filter(|p| !is_symlink && !name.contains('\\') && !p.as_os_str().is_empty())
            .ok_or_else(|| ArchiveError::Escapes {
                archive: archive.to_string(),
                entry: name.clone(),
                destination: destination.display().to_string(),
            })?;
        let target = root.join(&relative);
        if file.is_dir() {
            std::fs::create_dir_all(&target).map_err(write_error)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        // The declared size is what is counted and all that is read.
        let size = file.size();
        budget.spend(size, archive)?;
        let mut out = File::create(&target).map_err(write_error)?;
        std::io::copy(&mut (&mut file).take(size), &mut out).map_err(write_error)?;
        #[cfg(unix)]
        if let Some(mode) = file.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o777)).map_err(write_error)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Written raw: `append_data` would refuse the escaping names this tests.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn strips_a_single_top_level_directory() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.gz");
        std::fs::write(
            &archive,
            tar_gz(&[("pkg-1.0/configure", b"#!/bin/sh\n"), ("pkg-1.0/src/x.c", b"int x;\n")]),
        )
        .unwrap();
        let dest = dir.path().join("out");
        let created = extract(&archive, &dest, true, false).unwrap();
        assert_eq!(created, vec![dest.join("configure"), dest.join("src")]);
        assert_eq!(std::fs::read(dest.join("src/x.c")).unwrap(), b"int x;\n");
        let kept = extract(&archive, &dir.path().join("kept"), false, false).unwrap();
        assert_eq!(kept, vec![dir.path().join("kept/pkg-1.0")]);
        // Again: existing entries are an error, or replaced (and not reported).
        let err = extract(&archive, &dest, true, false).unwrap_err().to_string();
        assert!(err.contains("configure already exists"), "{err}");
        assert_eq!(extract(&archive, &dest, true, true).unwrap(), Vec::<PathBuf>::new());
        let two = dir.path().join("two.tgz");
        std::fs::write(&two, tar_gz(&[("a", b""), ("b", b"")])).unwrap();
        let err = extract(&two, &dir.path().join("t"), true, false).unwrap_err().to_string();
        assert!(err.contains("it holds 2 entries at the top, not one directory"), "{err}");
    }

    #[test]
    fn escaping_entries_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.tgz");
        std::fs::write(&archive, tar_gz(&[("ok.txt", b"fine"), ("../evil.txt", b"bad")])).unwrap();
        let dest = dir.path().join("out");
        let err = extract(&archive, &dest, false, false).unwrap_err().to_string();
        assert!(err.contains("\"../evil.txt\", which would be written outside"), "{err}");
        assert!(!dest.exists() && !dir.path().join("evil.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("evil.tgz")]);
    }

    #[test]
    fn link_chains_that_lead_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        // Each link alone stays inside; together they reach the parent of root.
        std::os::unix::fs::symlink("..", root.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("b/up/../..", root.join("a/out")).unwrap();
        assert_eq!(link_leaving(&root), Some(root.join("a/out")));
        std::fs::remove_file(root.join("a/out")).unwrap();
        assert_eq!(link_leaving(&root), None);
    }

    #[test]
    fn links_must_stay_inside() {
        assert!(link_stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a/link"), Path::new("../../etc/passwd")));
        assert!(!link_stays_inside(Path::new("link"), Path::new("/etc/passwd")));
    }

    #[test]
    fn unknown_formats_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("x.tar.gz");
        std::fs::write(&archive, b"not an archive").unwrap();
        let err = extract(&archive, &dir.path().join("o"), false, false).unwrap_err().to_string();
        assert!(err.contains("unknown format"), "{err}");
    }
}
