//! Reading configuration files named by `extends`: remote ones through the
//! extends cache (Buildout's `_open` download rules), and the policy hook through
//! which the trust boundary decides which files and URLs a configuration may pull
//! in (see `crate::trust::extends`). The configuration layer itself trusts nothing
//! and decides nothing: it asks [`ReadPolicy`] before every read it does for an
//! untrusted file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::layers::{Origin, Section};

/// Whether the host `host` may be contacted (a grant), for every redirect hop.
pub type HostCheck = crate::net::HostCheck;

/// What an untrusted configuration may make bo read. Files the user named (the
/// `-c` file, command-line extends, the user's defaults and what they extend) are
/// read without asking.
pub trait ReadPolicy: std::fmt::Debug {
    /// May a configuration file read `path` (already absolute) as configuration?
    fn local(&self, path: &Path, from: &str) -> Result<(), String>;
    /// May a configuration file fetch `url`? The returned check is asked again for
    /// every redirect hop.
    fn remote(&self, url: &str, from: &str) -> Result<HostCheck, String>;
    /// May downloaded configurations be kept in `dir` (an `extends-cache` set at
    /// `origin`)?
    fn cache(&self, dir: &Path, origin: Option<&Origin>) -> Result<(), String>;
}

/// What governs downloading remote configs: Buildout computes it from the
/// `[buildout]` options of the defaults, user defaults, the root file and the
/// command line (in that order of precedence, lowest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownloadSettings {
    pub offline: bool,
    pub newest: bool,
    /// `extends-cache`: downloaded configs are kept there under the md5 of the URL.
    pub extends_cache: Option<PathBuf>,
    /// Where `extends-cache` was set (the trust boundary asks).
    pub extends_cache_origin: Option<Origin>,
}

impl DownloadSettings {
    pub fn from_section(section: &Section) -> DownloadSettings {
        let value = |k: &str| section.get(k).map(|v| v.value.as_str()).unwrap_or("");
        let directory = Path::new(value("directory"));
        let cache = value("extends-cache");
        DownloadSettings {
            offline: value("offline") == "true" || value("install-from-cache") == "true",
            newest: value("newest") == "true",
            extends_cache: (!cache.is_empty()).then(|| directory.join(cache)),
            extends_cache_origin: section.get("extends-cache").map(|v| v.origin().clone()),
        }
    }
}

/// Fetches configuration files named by URL (`extends = https://...`).
pub trait ConfigFetcher {
    /// `allowed` is asked for every redirect hop.
    fn fetch(&mut self, url: &str, settings: &DownloadSettings, allowed: HostCheck) -> Result<String, String>;
}

/// Buildout's extends download: through `extends-cache` when set (newest mode
/// downloads again and falls back to the cached copy; otherwise a cached copy is
/// used as is), never over the network when offline. Only network downloads that
/// parse as configuration are cached, written atomically; `file://` URLs are read
/// in place and never copied into the cache.
#[derive(Default)]
pub struct UrlFetcher {
    downloaded: HashSet<String>,
}

fn fetch_now(url: &str, offline: bool, allowed: HostCheck) -> Result<Vec<u8>, String> {
    if offline {
        return Err(format!("Couldn't download '{url}' in offline mode."));
    }
    crate::net::get_checked(url, allowed)
}

/// Whether `bytes` parse as a configuration file (what may be cached).
fn parses(bytes: &[u8], url: &str) -> bool {
    super::parser::parse(&String::from_utf8_lossy(bytes), url, &mut |_| Ok(true)).is_ok()
}

impl ConfigFetcher for UrlFetcher {
    fn fetch(&mut self, url: &str, settings: &DownloadSettings, allowed: HostCheck) -> Result<String, String> {
        if let Some(path) = url.strip_prefix("file://") {
            let bytes = std::fs::read(path).map_err(|e| format!("Couldn't download '{url}': {e}"))?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let fallback = settings.newest && !self.downloaded.contains(url);
        self.downloaded.insert(url.to_string());
        let bytes = match &settings.extends_cache {
            None => fetch_now(url, settings.offline, allowed)?,
            Some(cache) => {
                if !cache.is_dir() {
                    return Err(format!(
                        "The directory:\n'{}'\nto be used as a download cache doesn't exist.\n",
                        cache.display()
                    ));
                }
                let cached = cache.join(hex::encode(<md5::Md5 as md5::Digest>::digest(url.as_bytes())));
                if cached.is_file() {
                    if fallback
                        && let Ok(fresh) = fetch_now(url, settings.offline, allowed)
                        && parses(&fresh, url)
                    {
                        let _ = write_atomically(&cached, &fresh);
                    }
                    std::fs::read(&cached).map_err(|e| format!("cannot read {}: {e}", cached.display()))?
                } else {
                    let fresh = fetch_now(url, settings.offline, allowed)?;
                    if parses(&fresh, url) {
                        write_atomically(&cached, &fresh).map_err(|e| format!("cannot write {}: {e}", cached.display()))?;
                    }
                    fresh
                }
            }
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A temporary file beside `path`, renamed over it: never written through a link.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = crate::fsutil::temp_path_beside(path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
