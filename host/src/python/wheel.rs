//! Installing wheels (PEP 427) into the shared distribution store (`eggs-directory`):
//! each wheel is unpacked once into its own directory, named after the wheel, which
//! scripts then put on `sys.path`. Unpacking goes to a temporary directory that is
//! renamed into place, under a lock, so concurrent builds and crashes never leave a
//! half-installed distribution. Every file is checked against RECORD; entries that
//! would escape the target (absolute, `..`, symlinks) are refused.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::metadata::{self, Metadata};

/// A distribution installed in the store.
#[derive(Debug, Clone)]
pub struct InstalledDist {
    pub metadata: Metadata,
    /// The directory to put on `sys.path`.
    pub location: PathBuf,
    /// `[console_scripts]`: script name → `module:attr`.
    pub console_scripts: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("{wheel}: not a valid wheel: {message}")]
    Invalid { wheel: String, message: String },
    #[error("{wheel}: entry {entry:?} would be written outside the installation directory; refusing to install")]
    Escape { wheel: String, entry: String },
    #[error("{wheel}: {entry} does not match its RECORD hash; the wheel is corrupt or was tampered with")]
    HashMismatch { wheel: String, entry: String },
    #[error("{wheel}: {message}")]
    Io { wheel: String, message: String },
}

/// The file in each store entry that records the sha256 of the wheel bo unpacked
/// there. A store may be shared by several buildouts (an `eggs-directory` in
/// default.cfg): one of them, hostile, must not be able to stand in for a wheel
/// another one installs under the same file name.
const RECORDED_HASH: &str = ".bo-wheel-sha256";

pub(crate) fn recorded_hash(entry: &Path) -> Option<String> {
    std::fs::read_to_string(entry.join(RECORDED_HASH))
        .ok()
        .map(|h| h.trim().to_ascii_lowercase())
}

/// The directory the wheel `wheel_filename` with content `sha256` is (or goes)
/// in `store`: named after the wheel, unless that name holds another content,
/// then after the wheel and its hash.
pub fn store_path_for(store: &Path, wheel_filename: &str, sha256: &str) -> PathBuf {
    let plain = store_path(store, wheel_filename);
    let sha256 = sha256.to_ascii_lowercase();
    match recorded_hash(&plain) {
        Some(recorded) if recorded == sha256 => plain,
        None if !plain.exists() => plain,
        _ => store.join(format!(
            "{}.{}",
            wheel_filename.trim_end_matches(".whl"),
            &sha256[..sha256.len().min(16)]
        )),
    }
}

/// The installed entry for `wheel_filename`, if the store has one: with a known
/// `sha256`, only an entry whose recorded hash matches it.
pub fn installed_entry(store: &Path, wheel_filename: &str, sha256: Option<&str>) -> Option<PathBuf> {
    let entry = match sha256 {
        Some(sha256) => store_path_for(store, wheel_filename, sha256),
        None => store_path(store, wheel_filename),
    };
    let matches = sha256.is_none_or(|want| recorded_hash(&entry).is_some_and(|got| got.eq_ignore_ascii_case(want)));
    (entry.is_dir() && matches).then_some(entry)
}

/// The file beside an installed wheel's code that says where the wheel came from.
const RECORDED_SOURCE: &str = ".bo-wheel-source";

/// Not a source: what an installed entry without a recorded source is.
pub const INSTALLED_ORIGIN: &str = "installed";

/// Records where the wheel installed at `entry` came from (its URL, the page
/// that offered it), once.
pub fn record_source(entry: &Path, url: &str, origin: &str) {
    let file = entry.join(RECORDED_SOURCE);
    if !file.exists() && !url.contains('\n') && !origin.contains('\n') {
        let _ = std::fs::write(file, format!("{url}\n{origin}\n"));
    }
}

/// Where the wheel installed at `entry` came from, if bo recorded it.
pub fn recorded_source(entry: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(entry.join(RECORDED_SOURCE)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_string(), lines.next()?.to_string()))
}

/// The wheels of `project` (a normalised name) installed in `store`, as
/// (wheel file name, sha256, entry): every entry bo made (it records the
/// wheel's hash inside), named after the wheel, or after the wheel and its hash.
pub fn installed_of(store: &Path, project: &str) -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(store).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `name-version-...-platform` or that plus `.<hash16>`.
        let stem = match name.rsplit_once('.') {
            Some((stem, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => stem,
            _ => name.as_str(),
        };
        let filename = format!("{stem}.whl");
        let Some(parsed) = super::tags::WheelName::parse(&filename) else {
            continue;
        };
        if super::metadata::normalize(&parsed.name) != project {
            continue;
        }
        let path = entry.path();
        if let Some(sha256) = recorded_hash(&path).filter(|_| path.is_dir()) {
            out.push((filename, sha256, path));
        }
    }
    out.sort();
    out
}

/// The directory a wheel is installed to in `store`, by name only.
pub fn store_path(store: &Path, wheel_filename: &str) -> PathBuf {
    store.join(wheel_filename.trim_end_matches(".whl"))
}

/// Installs `wheel` into `store` unless it is there already; returns what is installed.
pub fn install(wheel: &Path, store: &Path) -> Result<InstalledDist, WheelError> {
    let filename = wheel.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let sha256 = std::fs::read(wheel)
        .map(|bytes| hex::encode(Sha256::digest(&bytes)))
        .map_err(|e| WheelError::Io {
            wheel: filename.clone(),
            message: e.to_string(),
        })?;
    let target = store_path_for(store, &filename, &sha256);
    if target.is_dir() {
        return read_installed(&target, &filename);
    }
    let io = |e: std::io::Error| WheelError::Io {
        wheel: filename.clone(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(store.join(".locks")).map_err(io)?;
    let lock = File::create(store.join(".locks").join(format!("{filename}.lock"))).map_err(io)?;
    lock.lock().map_err(io)?;
    if target.is_dir() {
        return read_installed(&target, &filename);
    }
    let tmp = store.join(format!(".tmp-{}-{}", std::process::id(), filename));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = unpack(wheel, &tmp, &filename).and_then(|_| {
        std::fs::write(tmp.join(RECORDED_HASH), &sha256).map_err(io)?;
        std::fs::rename(&tmp, &target).map_err(io)?;
        read_installed(&target, &filename)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn invalid(wheel: &str, message: impl Into<String>) -> WheelError {
    WheelError::Invalid {
        wheel: wheel.to_string(),
        message: message.into(),
    }
}

/// A safe relative path for a zip entry, or `None` if it would escape.
fn safe_relative(name: &str) -> Option<PathBuf> {
    if name.contains('\\') || name.starts_with('/') {
        return None;
    }
    crate::archive::safe_relative(Path::new(name)).filter(|p| !p.as_os_str().is_empty())
}

fn unpack(wheel: &Path, dest: &Path, filename: &str) -> Result<(), WheelError> {
    let io = |e: std::io::Error| WheelError::Io {
        wheel: filename.to_string(),
        message: e.to_string(),
    };
    let file = File::open(wheel).map_err(io)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| invalid(filename, e.to_string()))?;
    let names: Vec<String> = archive.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let dist_info = names
        .iter()
        .filter_map(|n| n.split('/').next())
        .find(|top| top.ends_with(".dist-info"))
        .ok_or_else(|| invalid(filename, "no .dist-info directory"))?
        .to_string();
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let record_name = format!("{dist_info}/RECORD");
    let mut record_text = String::new();
    archive
        .by_name(&record_name)
        .map_err(|_| invalid(filename, "no RECORD file"))?
        .read_to_string(&mut record_text)
        .map_err(|e| invalid(filename, format!("unreadable RECORD: {e}")))?;
    let mut record: HashMap<String, Option<String>> = HashMap::new();
    for line in record_text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.rsplitn(3, ',');
        let _size = fields.next();
        let hash = fields.next().unwrap_or("");
        let path = fields.next().unwrap_or("").trim_matches('"').to_string();
        record.insert(path, hash.strip_prefix("sha256=").map(String::from));
    }

    std::fs::create_dir_all(dest).map_err(io)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| invalid(filename, e.to_string()))?;
        let name = entry.name().map_err(|e| invalid(filename, e.to_string()))?.into_owned();
        if entry.is_dir() {
            continue;
        }
        let is_symlink = entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
        let Some(relative) = safe_relative(&name).filter(|_| !is_symlink) else {
            return Err(WheelError::Escape {
                wheel: filename.to_string(),
                entry: name,
            });
        };
        // `.data/<scheme>/...` goes to the scheme's place inside the installation.
        let relative = match relative.strip_prefix(&data_dir) {
            Ok(rest) => {
                let mut parts = rest.components();
                let scheme = parts
                    .next()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .unwrap_or_default();
                let rest: PathBuf = parts.collect();
                match scheme.as_str() {
                    "purelib" | "platlib" => rest,
                    "scripts" => Path::new(".bo-scripts").join(rest),
                    "headers" => Path::new("include").join(rest),
                    _ => Path::new("data").join(rest),
                }
            }
            Err(_) => relative,
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| invalid(filename, format!("{name}: {e}")))?;
        match record.get(&name) {
            Some(Some(expected)) => {
                let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
                if &digest != expected {
                    return Err(WheelError::HashMismatch {
                        wheel: filename.to_string(),
                        entry: name,
                    });
                }
            }
            Some(None) if name == record_name || name.ends_with(".jws") || name.ends_with(".p7s") => {}
            Some(None) => return Err(invalid(filename, format!("RECORD lists {name} without a hash"))),
            None => return Err(invalid(filename, format!("{name} is not listed in RECORD"))),
        }
        let path = dest.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = File::create(&path).map_err(io)?;
        out.write_all(&bytes).map_err(io)?;
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode().filter(|m| m & 0o111 != 0) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o755)).map_err(io)?;
        }
    }
    Ok(())
}

pub fn read_installed(location: &Path, filename: &str) -> Result<InstalledDist, WheelError> {
    let io = |e: std::io::Error| WheelError::Io {
        wheel: filename.to_string(),
        message: e.to_string(),
    };
    let dist_info = std::fs::read_dir(location)
        .map_err(io)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dist-info"))
        .ok_or_else(|| invalid(filename, "installed copy has no .dist-info"))?;
    let text = std::fs::read_to_string(dist_info.join("METADATA")).map_err(io)?;
    let metadata = metadata::parse(&text).map_err(|m| invalid(filename, m))?;
    let entry_points = std::fs::read_to_string(dist_info.join("entry_points.txt")).unwrap_or_default();
    Ok(InstalledDist {
        metadata,
        location: location.to_path_buf(),
        console_scripts: console_scripts(&entry_points),
    })
}

/// The `[console_scripts]` group of an `entry_points.txt`.
pub fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut in_group = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_group = line == "[console_scripts]";
        } else if in_group && let Some((name, target)) = line.split_once('=') {
            let target = target.split('[').next().unwrap_or("").trim();
            out.push((name.trim().to_string(), target.to_string()));
        }
    }
    out
}

/// Reads `METADATA` from a wheel file without installing it.
pub fn read_metadata(wheel: &Path) -> Result<Metadata, String> {
    let file = File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{}: not a valid wheel: {e}", wheel.display()))?;
    let name = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .ok_or_else(|| format!("{}: not a valid wheel: no METADATA", wheel.display()))?;
    let mut text = String::new();
    archive
        .by_name(&name)
        .map_err(|e| e.to_string())?
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    metadata::parse(&text).map_err(|m| format!("{}: {m}", wheel.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        assert!(safe_relative("pkg/mod.py").is_some());
        assert!(safe_relative("../evil.py").is_none());
        assert!(safe_relative("pkg/../../evil.py").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("pkg\\..\\evil").is_none());
    }

    #[test]
    fn entry_points() {
        let eps = console_scripts("[console_scripts]\nfoo = pkg.cli:main [extra]\n[gui_scripts]\nbar = x:y\n");
        assert_eq!(eps, vec![("foo".to_string(), "pkg.cli:main".to_string())]);
    }
}
