//! HTTP for bo: one blocking client, rustls with the system's trust store (the
//! platform verifier), used for remote `extends`, recipe downloads and, later, the
//! package index. Errors name the URL.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Whether a host may be contacted (a grant), asked for every redirect hop.
pub type HostCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .user_agent(concat!("bo/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .timeout(Duration::from_secs(600))
                .build()
                .map_err(|e| format!("cannot set up HTTP: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// GETs `url` and returns the body; any status but 200 is an error naming the URL.
pub fn get(url: &str) -> Result<Vec<u8>, String> {
    body(client()?, url)
}

/// The body of a successful GET of `url` with `client`; errors name the URL.
fn body(client: &reqwest::blocking::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = client
        .get(url)
        .send()
        .map_err(|e| format!("cannot download {url}: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("cannot download {url}: HTTP {status}"));
    }
    response
        .bytes()
        .map(|b| b.to_vec())
        .map_err(|e| format!("cannot download {url}: {}", error_chain(&e)))
}

/// Like [`get`], for a recipe's download: every redirect hop must go to a host
/// `host_allowed` accepts (a granted host could otherwise redirect anywhere).
pub fn get_checked(url: &str, host_allowed: HostCheck) -> Result<Vec<u8>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let host = attempt.url().host_str().unwrap_or("").to_string();
        let target = attempt.url().to_string();
        let scheme_ok = matches!(attempt.url().scheme(), "http" | "https");
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if scheme_ok && host_allowed(&host) {
            attempt.follow()
        } else {
            attempt.error(format!("redirect to {target} refused: host {host:?} is not granted"))
        }
    });
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("bo/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .redirect(policy)
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    body(&client, url)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// GETs a page with an `Accept` header; returns its content type and body. A 404 is
/// `Ok(None)` (an index saying it does not know the project).
pub fn get_page(url: &str, accept: &str) -> Result<Option<(String, Vec<u8>)>, String> {
    let response = client()?
        .get(url)
        .header("Accept", accept)
        .send()
        .map_err(|e| format!("cannot read {url}: {}", error_chain(&e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("cannot read {url}: HTTP {status}"));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.bytes().map_err(|e| format!("cannot read {url}: {}", error_chain(&e)))?;
    Ok(Some((content_type, body.to_vec())))
}

/// Resolves `href` against the page it appeared on.
pub fn join_url(base: &str, href: &str) -> String {
    match reqwest::Url::parse(base).and_then(|b| b.join(href)) {
        Ok(url) => url.to_string(),
        Err(_) => href.to_string(),
    }
}

/// A fresh temporary path in `target`'s directory (for write-then-rename), unique
/// across processes and threads.
pub fn temp_path_beside(target: &std::path::Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}
