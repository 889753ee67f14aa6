//! Where distributions come from: the package index (PEP 691 JSON or PEP 503 HTML
//! simple pages, with PEP 658 metadata files when offered), `find-links`
//! directories and pages, and the download cache. Downloads are checked against the
//! index's sha256 and kept in the cache, so offline runs work from it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use sha2::{Digest, Sha256};

use super::metadata::{self, Metadata};
use super::tags::WheelName;

/// One file offered for a project.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub filename: String,
    /// A URL, or a local path for find-links directories and the cache.
    pub url: String,
    pub version: Version,
    pub sha256: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    /// PEP 658: metadata available at `<url>.metadata`.
    pub has_metadata_file: bool,
    pub yanked: bool,
    pub wheel: Option<WheelName>,
    /// Where it came from, for messages and the lock file.
    pub origin: String,
}

#[derive(Clone)]
pub struct IndexSettings {
    /// The simple index URL (or a local directory); `None` for find-links only.
    pub index: Option<String>,
    pub find_links: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub offline: bool,
    /// Where downloaded files are kept.
    pub cache: PathBuf,
    /// The hosts the asking party may reach (its grant), asked for every request
    /// and every redirect hop, besides `allow-hosts`.
    pub grant: crate::net::HostCheck,
}

impl std::fmt::Debug for IndexSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexSettings")
            .field("index", &self.index)
            .field("find_links", &self.find_links)
            .field("allow_hosts", &self.allow_hosts)
            .field("offline", &self.offline)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

pub struct Index {
    pub settings: IndexSettings,
}

fn is_remote(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn host_allowed(url: &str, allow: &[String]) -> bool {
    if !is_remote(url) || allow.is_empty() {
        return true;
    }
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default();
    allow.iter().any(|pattern| glob_match(pattern, &host))
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(text),
        Some((prefix, rest)) => {
            let lower = text.to_ascii_lowercase();
            if !lower.starts_with(&prefix.to_ascii_lowercase()) {
                return false;
            }
            let tail = &text[prefix.len()..];
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_match(rest, &tail[i..]))
        }
    }
}

/// Parses a file name into a candidate for `project`, if it is one of its
/// distributions (wheel or sdist).
fn candidate_from_filename(project: &str, filename: &str, url: String, origin: &str) -> Option<Candidate> {
    // The index names the file; the name becomes a path in the caches and the
    // store, so it must be one plain file name (`a-1.0-0/../../x.whl` is not).
    if !crate::trust::grants::is_file_name(filename) || filename.starts_with('.') || filename.contains(['\\', '\0']) {
        return None;
    }
    let wanted = metadata::normalize(project);
    let (name, version, wheel) = if let Some(wheel) = WheelName::parse(filename) {
        (wheel.name.clone(), wheel.version.clone(), Some(wheel))
    } else {
        let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?;
        let (name, version) = stem.rsplit_once('-')?;
        (name.to_string(), version.to_string(), None)
    };
    if metadata::normalize(&name) != wanted {
        return None;
    }
    let version = Version::from_str(&version).ok()?;
    Some(Candidate {
        filename: filename.to_string(),
        url,
        version,
        sha256: None,
        requires_python: None,
        has_metadata_file: false,
        yanked: false,
        wheel,
        origin: origin.to_string(),
    })
}

/// Where the file `filename` fetched from `url` is kept in the download cache.
pub fn cached_path(cache: &Path, url: &str, filename: &str) -> PathBuf {
    cache.join(url_key(url)).join(filename)
}

/// A short key of a URL (16 hex digits of its sha256).
pub fn url_key(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))[..16].to_string()
}

fn split_fragment(url: &str) -> (String, Option<String>) {
    match url.split_once('#') {
        Some((base, fragment)) => (base.to_string(), fragment.strip_prefix("sha256=").map(String::from)),
        None => (url.to_string(), None),
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The anchors of a PEP 503 page: (href, attributes).
fn anchors(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<a ").map(|i| pos + i) {
        let Some(end) = html[start..].find('>').map(|i| start + i) else {
            break;
        };
        let tag = &html[start + 3..end];
        let mut attributes = Vec::new();
        let mut rest = tag;
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq].trim().to_ascii_lowercase();
            let after = rest[eq + 1..].trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map(|i| i + 1).unwrap_or(after.len());
                    (&after[1..close], &after[(close + 1).min(after.len())..])
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            let key = key.rsplit(char::is_whitespace).next().unwrap_or("").to_string();
            attributes.push((key, html_unescape(value)));
            rest = remaining;
        }
        if let Some(href) = attributes.iter().find(|(k, _)| k == "href").map(|(_, v)| v.clone()) {
            out.push((href, attributes));
        }
        pos = end;
    }
    out
}

impl Index {
    pub fn new(settings: IndexSettings) -> Index {
        Index { settings }
    }

    /// The check for every request and redirect hop: the grant and `allow-hosts`.
    fn allowed(&self) -> crate::net::HostCheck {
        let grant = self.settings.grant.clone();
        let allow = self.settings.allow_hosts.clone();
        std::sync::Arc::new(move |host: &str| grant(host) && (allow.is_empty() || allow.iter().any(|p| glob_match(p, host))))
    }

    /// Every file offered for `project` by the index, find-links and the cache.
    pub fn candidates(&self, project: &str) -> Result<Vec<Candidate>, String> {
        let mut out = Vec::new();
        for link in &self.settings.find_links {
            out.extend(self.links(project, link)?);
        }
        if let Some(index) = &self.settings.index {
            if is_remote(index) {
                if !self.settings.offline {
                    out.extend(self.simple_page(project, index)?);
                }
            } else {
                let base = Path::new(index.trim_start_matches("file://"));
                out.extend(self.directory(project, &base.join(metadata::normalize(project)), base, index)?);
                out.extend(self.directory(project, base, base, index)?);
            }
        }
        // The download cache keeps each file under a key of the URL it came from,
        // with the page that offered it beside it (see `fetch`). The cache is shared
        // by every buildout: a file counts only if this buildout's own index or
        // find-links offered it (another buildout's index must not stand in for
        // this one's, with a better tag or version).
        for sub in std::fs::read_dir(&self.settings.cache).into_iter().flatten().flatten() {
            if sub.file_type().is_ok_and(|t| t.is_dir()) && sub.file_name().len() == 16 {
                let offered = self.directory(project, &sub.path(), &sub.path(), "download cache")?;
                out.extend(offered.into_iter().filter(|c| {
                    let origin = std::fs::read_to_string(format!("{}.origin", c.url)).unwrap_or_default();
                    self.is_own_source(origin.trim())
                }));
            }
        }
        // One candidate per file: the first source that offers it (the index or
        // find-links before the cache, so locks name where files come from).
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.filename.clone()));
        Ok(out)
    }

    /// Whether `page` (where a cached file was offered) is this buildout's index
    /// or one of its find-links.
    fn is_own_source(&self, page: &str) -> bool {
        if page.is_empty() {
            return false;
        }
        // Compared as parsed URLs (dot segments resolved): `simple/../evil` is not
        // below `simple/`.
        let parsed = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.to_string());
        let Some(page) = parsed(page) else { return false };
        let index = self
            .settings
            .index
            .as_deref()
            .filter(|i| is_remote(i))
            .and_then(|i| parsed(&format!("{}/", i.trim_end_matches('/'))));
        index.is_some_and(|i| page.starts_with(&i)) || self.settings.find_links.iter().any(|l| parsed(l).as_deref() == Some(page.as_str()))
    }

    /// The files of `project` in the local directory `dir`, which must lie in
    /// `root` (the directory the configuration named, which the trust module
    /// checked). Each file is taken where it really lies, and only inside `root`:
    /// a link in a find-links directory (`x-1.0-py3-none-any.whl -> ~/private/...`,
    /// or a project directory of an index linking to `~/private`) leads nowhere.
    fn directory(&self, project: &str, dir: &Path, root: &Path, origin: &str) -> Result<Vec<Candidate>, String> {
        let Ok(root) = std::fs::canonicalize(root) else {
            return Ok(Vec::new());
        };
        let Ok(real_dir) = std::fs::canonicalize(dir) else {
            return Ok(Vec::new());
        };
        if !real_dir.starts_with(&root) {
            crate::progress::eprintln(&format!(
                "Not using {}: it links to {}, outside {}",
                dir.display(),
                real_dir.display(),
                root.display()
            ));
            return Ok(Vec::new());
        }
        let Ok(entries) = std::fs::read_dir(&real_dir) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let kind = e.file_type().ok()?;
                let path = if kind.is_file() {
                    e.path()
                } else if kind.is_symlink() {
                    let real = std::fs::canonicalize(e.path()).ok()?;
                    if !real.starts_with(&root) {
                        crate::progress::eprintln(&format!(
                            "Not using {}: it links to {}, outside {}",
                            e.path().display(),
                            real.display(),
                            root.display()
                        ));
                        return None;
                    }
                    real.is_file().then_some(real)?
                } else {
                    return None;
                };
                candidate_from_filename(project, &name, path.to_string_lossy().into_owned(), origin)
            })
            .collect())
    }

    fn links(&self, project: &str, link: &str) -> Result<Vec<Candidate>, String> {
        if !is_remote(link) {
            let dir = Path::new(link.trim_start_matches("file://"));
            return self.directory(project, dir, dir, link);
        }
        if self.settings.offline || !host_allowed(link, &self.settings.allow_hosts) {
            return Ok(Vec::new());
        }
        let Some((_, body)) = crate::net::get_page(link, "text/html", &self.allowed())? else {
            return Ok(Vec::new());
        };
        Ok(self.from_html(project, link, &String::from_utf8_lossy(&body)))
    }

    fn from_html(&self, project: &str, page: &str, html: &str) -> Vec<Candidate> {
        anchors(html)
            .into_iter()
            .filter_map(|(href, attributes)| {
                let (url, sha256) = split_fragment(&crate::net::join_url(page, &href));
                // A remote page offers remote files only (as pip): a `file:` link
                // would have bo read a file of yours as a distribution.
                if !is_remote(&url) {
                    return None;
                }
                let filename = url.rsplit('/').next()?.to_string();
                let mut c = candidate_from_filename(project, &filename, url, page)?;
                let attr = |k: &str| attributes.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
                c.sha256 = sha256;
                c.requires_python = attr("data-requires-python").and_then(|s| VersionSpecifiers::from_str(&s).ok());
                c.has_metadata_file = attr("data-core-metadata")
                    .or(attr("data-dist-info-metadata"))
                    .is_some_and(|v| v != "false");
                c.yanked = attr("data-yanked").is_some();
                Some(c)
            })
            .collect()
    }

    fn simple_page(&self, project: &str, index: &str) -> Result<Vec<Candidate>, String> {
        let url = format!("{}/{}/", index.trim_end_matches('/'), metadata::normalize(project));
        if !host_allowed(&url, &self.settings.allow_hosts) {
            return Err(format!("{url} is not in allow-hosts"));
        }
        let accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
        let Some((content_type, body)) = crate::net::get_page(&url, accept, &self.allowed())? else {
            return Ok(Vec::new());
        };
        if !content_type.contains("json") {
            return Ok(self.from_html(project, &url, &String::from_utf8_lossy(&body)));
        }
        let page: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("{url}: bad JSON simple page: {e}"))?;
        let files = page["files"].as_array().cloned().unwrap_or_default();
        Ok(files
            .iter()
            .filter_map(|f| {
                let filename = f["filename"].as_str()?;
                let (file_url, fragment) = split_fragment(&crate::net::join_url(&url, f["url"].as_str()?));
                if !is_remote(&file_url) {
                    return None;
                }
                let mut c = candidate_from_filename(project, filename, file_url, &url)?;
                c.sha256 = f["hashes"]["sha256"].as_str().map(String::from).or(fragment);
                c.requires_python = f["requires-python"].as_str().and_then(|s| VersionSpecifiers::from_str(s).ok());
                let meta = f.get("core-metadata").or(f.get("dist-info-metadata"));
                c.has_metadata_file = meta.is_some_and(|m| m.as_bool() != Some(false) && !m.is_null());
                c.yanked = f["yanked"].as_bool().unwrap_or(false) || f["yanked"].is_string();
                Some(c)
            })
            .collect())
    }

    /// The candidate's metadata: the PEP 658 file if offered, else from the wheel.
    pub fn metadata(&self, candidate: &Candidate) -> Result<Metadata, String> {
        if candidate.has_metadata_file && is_remote(&candidate.url) && !self.settings.offline {
            let cached = self
                .settings
                .cache
                .join("metadata")
                .join(format!("{}.{}.metadata", candidate.filename, url_key(&candidate.url)));
            if let Ok(text) = std::fs::read_to_string(&cached) {
                return metadata::parse(&text);
            }
            if let Ok(bytes) =
                crate::net::get_checked_limited(&format!("{}.metadata", candidate.url), &self.allowed(), crate::net::PAGE_LIMIT)
            {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let parsed = metadata::parse(&text)?;
                let _ = std::fs::create_dir_all(cached.parent().unwrap());
                let tmp = crate::fsutil::temp_path_beside(&cached);
                let _ = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &cached));
                return Ok(parsed);
            }
        }
        // The whole file, for its metadata: say so, it can take a while.
        let _shown = is_remote(&candidate.url).then(|| {
            crate::progress::detail(&format!(
                "Fetching {} for its metadata (the index offers no PEP 658 metadata file)",
                candidate.filename
            ))
        });
        let path = self.fetch(candidate)?;
        super::wheel::read_metadata(&path)
    }

    /// The candidate's file on disk: local files as they are, remote ones through
    /// the cache, checked against the index's sha256.
    pub fn fetch(&self, candidate: &Candidate) -> Result<PathBuf, String> {
        if !is_remote(&candidate.url) {
            let path = PathBuf::from(candidate.url.trim_start_matches("file://"));
            // Listed where it really lies (see `directory`): a link put there since
            // is not followed.
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
                return Err(format!("{}: not a regular file", path.display()));
            }
            if let Some(want) = &candidate.sha256 {
                check_sha256(&path, want)?;
            }
            return Ok(path);
        }
        // Keyed by the URL: the cache is shared by every buildout, and a file name
        // alone would let one buildout's index stand in for another's.
        let target = cached_path(&self.settings.cache, &candidate.url, &candidate.filename);
        if target.is_file() && candidate.sha256.as_ref().is_none_or(|want| check_sha256(&target, want).is_ok()) {
            return Ok(target);
        }
        if self.settings.offline {
            return Err(format!("{} is not in the download cache and bo is offline", candidate.filename));
        }
        if !host_allowed(&candidate.url, &self.settings.allow_hosts) {
            return Err(format!("{} is not in allow-hosts", candidate.url));
        }
        let bytes = crate::net::get_checked_limited(&candidate.url, &self.allowed(), crate::net::FILE_LIMIT)?;
        if let Some(want) = &candidate.sha256 {
            let got = hex::encode(Sha256::digest(&bytes));
            if !got.eq_ignore_ascii_case(want) {
                return Err(format!(
                    "{}: sha256 mismatch: the index says {want}, the download is {got}",
                    candidate.url
                ));
            }
        }
        std::fs::create_dir_all(target.parent().unwrap_or(&self.settings.cache))
            .map_err(|e| format!("cannot create the download cache: {e}"))?;
        // A unique temporary name: parallel parts may fetch the same file at once.
        let tmp = crate::fsutil::temp_path_beside(&target);
        std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, &target))
            .map_err(|e| format!("cannot store {}: {e}", candidate.filename))?;
        // Which page offered it: later, offline, only a buildout with that source
        // may take it from the cache.
        let origin = PathBuf::from(format!("{}.origin", target.display()));
        let tmp = crate::fsutil::temp_path_beside(&origin);
        let _ = std::fs::write(&tmp, &candidate.origin).and_then(|_| std::fs::rename(&tmp, &origin));
        Ok(target)
    }
}

pub fn check_sha256(path: &Path, want: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got.eq_ignore_ascii_case(want) {
        Ok(())
    } else {
        Err(format!("{}: sha256 mismatch: expected {want}, got {got}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_anchors() {
        let html = r#"<a href="../../packages/six-1.17.0-py2.py3-none-any.whl#sha256=abc" data-requires-python="&gt;=2.7">six</a>
<a href='six-1.16.0.tar.gz'>six</a>"#;
        let index = Index::new(IndexSettings {
            index: None,
            find_links: vec![],
            allow_hosts: vec![],
            grant: crate::net::any_host(),
            offline: true,
            cache: PathBuf::new(),
        });
        let c = index.from_html("six", "http://h/simple/six/", html);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].url, "http://h/packages/six-1.17.0-py2.py3-none-any.whl");
        assert_eq!(c[0].sha256.as_deref(), Some("abc"));
        assert!(c[0].requires_python.is_some());
        assert!(c[1].wheel.is_none());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.python.org", "pypi.python.org"));
        assert!(glob_match("*", "x"));
        assert!(!glob_match("*.example.com", "example.org"));
    }
}
