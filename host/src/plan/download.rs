//! Downloads for recipes, through a content cache: `file://` URLs and local paths are
//! copied, network URLs are fetched unless offline; digests are checked before a
//! file is handed to a recipe or kept in the cache.

use std::io::Read;
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

/// Fetches `url` into `cache` (named by the sha256 of the URL) and returns the path.
pub fn fetch(url: &str, sha256: Option<&str>, md5: Option<&str>, cache: &Path, offline: bool) -> Result<PathBuf, String> {
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
        http_get(url)?
    };
    check_digest(&bytes, sha256, md5, url)?;
    std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| format!("cannot create the download cache: {e}"))?;
    let tmp = target.with_extension(format!("part{}", std::process::id()));
    std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &target)).map_err(|e| format!("cannot store {url}: {e}"))?;
    Ok(target)
}

/// Plain HTTP/1.1 GET for `http://` URLs (test servers on 127.0.0.1); `https://`
/// needs TLS, which this build of bo does not have yet.
fn http_get(url: &str) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("cannot download {url}: only http:// and file:// are supported by this build of bo"))?;
    let (authority, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let address = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let mut stream = std::net::TcpStream::connect(&address).map_err(|e| format!("cannot download {url}: {e}"))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: bo\r\n\r\n")
        .map_err(|e| format!("cannot download {url}: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("cannot download {url}: {e}"))?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("cannot download {url}: malformed response"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("cannot download {url}: HTTP status {status}"));
    }
    let body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return dechunk(&body).ok_or_else(|| format!("cannot download {url}: malformed chunked body"));
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        assert!(check_digest(b"", None, Some("d41d8cd98f00b204e9800998ecf8427e"), "u").is_ok());
        assert!(check_digest(b"x", None, Some("d41d8cd98f00b204e9800998ecf8427e"), "u").unwrap_err().contains("md5 mismatch"));
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(check_digest(b"", Some(sha), None, "u").is_ok());
    }
}
