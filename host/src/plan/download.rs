//! Downloads for recipes, through a content cache: `file://` URLs and local paths are
//! copied, network URLs are fetched unless offline; digests are checked before a
//! file is handed to a recipe or kept in the cache.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn check_digest(bytes: &[u8], sha256: Option<&str>, md5: Option<&str>, url: &str) -> Result<(), String> {
    if let Some(want) = sha256 {
        let got = hex::encode(Sha256::digest(bytes));
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(format!("sha256 mismatch for {url}: expected {want}, got {got}"));
        }
    }
    if let Some(want) = md5 {
        let got = hex::encode(md5::Md5::digest(bytes));
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(format!("md5 mismatch for {url}: expected {want}, got {got}"));
        }
    }
    Ok(())
}

/// Fetches `url` into `cache` (named by the sha256 of the URL) and returns the path;
/// redirects are followed only to hosts `host_allowed` accepts.
pub fn fetch(
    url: &str,
    sha256: Option<&str>,
    md5: Option<&str>,
    cache: &Path,
    offline: bool,
    host_allowed: crate::runtime::HostCheck,
) -> Result<PathBuf, String> {
    let name = url.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("download");
    let key = hex::encode(Sha256::digest(url.as_bytes()));
    let target = cache.join(&key[..16]).join(name);
    if target.is_file() {
        let bytes = std::fs::read(&target).map_err(|e| format!("cannot read cached {}: {e}", target.display()))?;
        if check_digest(&bytes, sha256, md5, url).is_ok() {
            return Ok(target);
        }
    }
    let bytes = if let Some(path) = url.strip_prefix("file://") {
        std::fs::read(path).map_err(|e| format!("cannot read {url}: {e}"))?
    } else if !url.contains("://") {
        std::fs::read(url).map_err(|e| format!("cannot read {url}: {e}"))?
    } else if offline {
        return Err(format!("Couldn't download '{url}' in offline mode."));
    } else {
        crate::net::get_checked(url, host_allowed)?
    };
    check_digest(&bytes, sha256, md5, url)?;
    std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| format!("cannot create the download cache: {e}"))?;
    // A unique temporary name: parallel parts may fetch the same file at once.
    let tmp = crate::fsutil::temp_path_beside(&target);
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, &target))
        .map_err(|e| format!("cannot store {url}: {e}"))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        assert!(check_digest(b"", None, Some("d41d8cd98f00b204e9800998ecf8427e"), "u").is_ok());
        assert!(
            check_digest(b"x", None, Some("d41d8cd98f00b204e9800998ecf8427e"), "u")
                .unwrap_err()
                .contains("md5 mismatch")
        );
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(check_digest(b"", Some(sha), None, "u").is_ok());
    }
}
