//! HTTP for bo: one blocking client, rustls with the system's trust store (the
//! platform verifier), used for remote `extends`, recipe downloads and the package
//! index. Redirects are followed here, one hop at a time, each hop checked against
//! the asking party's grant (a granted host could otherwise send bo anywhere, and
//! https is never downgraded to http); bodies are read up to a cap, never without
//! bound. Errors name the URL.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Whether a host may be contacted (a grant), asked for every redirect hop.
pub type HostCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Any host (for what the user configured).
pub fn any_host() -> HostCheck {
    Arc::new(|_: &str| true)
}

/// How much of one response bo reads: pages and metadata, files (wheels, archives).
pub const PAGE_LIMIT: u64 = 64 << 20;
pub const FILE_LIMIT: u64 = 2 << 30;

/// Redirect hops followed at most.
const MAX_REDIRECTS: usize = 10;

thread_local! {
    /// When the recipe call this thread runs for must end (its wall-clock limit).
    static DEADLINE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every request on this thread bounded by `deadline` (a recipe
/// call's wall-clock limit: a host service must not outlast it).
pub fn with_deadline<R>(deadline: std::time::Instant, f: impl FnOnce() -> R) -> R {
    let before = DEADLINE.with(|d| d.replace(Some(deadline)));
    let result = f();
    DEADLINE.with(|d| d.set(before));
    result
}

/// Buildout's `socket-timeout` (`-t`), in milliseconds; 0 for bo's default.
static SOCKET_TIMEOUT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets how long any one request may wait (Buildout's `-t` / `socket-timeout`).
pub fn set_socket_timeout(timeout: Duration) {
    SOCKET_TIMEOUT_MS.store(timeout.as_millis().max(1) as u64, std::sync::atomic::Ordering::Relaxed);
}

/// How long a request may take: `socket-timeout` if set, else 600 s, and never
/// past what is left of a recipe call's limit.
fn request_timeout(url: &reqwest::Url) -> Result<Duration, String> {
    let configured = SOCKET_TIMEOUT_MS.load(std::sync::atomic::Ordering::Relaxed);
    let full = if configured > 0 {
        Duration::from_millis(configured)
    } else {
        Duration::from_secs(600)
    };
    match DEADLINE.with(|d| d.get()) {
        None => Ok(full),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(format!("cannot download {url}: the recipe's time limit ran out"));
            }
            Ok(left.min(full))
        }
    }
}

fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .user_agent(concat!("bo/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .timeout(Duration::from_secs(600))
                // Followed by `send`, which checks every hop.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot set up HTTP: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The host of a URL as the HTTP client reads it (brackets of IPv6 removed).
pub fn host_of(url: &reqwest::Url) -> String {
    url.host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// GETs `url`, following redirects that `allowed` accepts; the final response.
fn send(url: &str, accept: Option<&str>, allowed: &HostCheck) -> Result<(String, reqwest::blocking::Response), String> {
    let mut current = reqwest::Url::parse(url).map_err(|e| format!("cannot download {url}: {e}"))?;
    for _ in 0..=MAX_REDIRECTS {
        let host = host_of(&current);
        if !matches!(current.scheme(), "http" | "https") {
            return Err(format!("cannot download {current}: only http and https are fetched"));
        }
        if !allowed(&host) {
            let how = if current.as_str() == url { "refused" } else { "redirect refused" };
            return Err(format!("{how}: {current}: host {host:?} is not granted"));
        }
        let mut request = client()?.get(current.clone()).timeout(request_timeout(&current)?);
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send().map_err(|e| {
            if e.is_timeout() {
                format!("cannot download {current}: no answer within the timeout (socket-timeout, -t)")
            } else {
                format!("cannot download {current}: {}", error_chain(&e))
            }
        })?;
        if !response.status().is_redirection() {
            return Ok((current.to_string(), response));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("cannot download {current}: a redirect without a location"))?;
        let next = current
            .join(location)
            .map_err(|e| format!("cannot download {current}: bad redirect: {e}"))?;
        if current.scheme() == "https" && next.scheme() == "http" {
            return Err(format!("redirect refused: {current} -> {next} would leave https"));
        }
        current = next;
    }
    Err(format!("cannot download {url}: too many redirects"))
}

/// Reads at most `limit` bytes of `response`; more is an error naming `url`.
fn read_capped(url: &str, response: reqwest::blocking::Response, limit: u64) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    response
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot download {url}: {}", error_chain(&e)))?;
    if body.len() as u64 > limit {
        return Err(format!("cannot download {url}: larger than {} MiB", limit >> 20));
    }
    Ok(body)
}

/// GETs `url` and returns the body (at most `limit` bytes); every redirect hop must
/// go to a host `allowed` accepts; any status but success is an error naming the URL.
pub fn get_checked_limited(url: &str, allowed: &HostCheck, limit: u64) -> Result<Vec<u8>, String> {
    let (final_url, response) = send(url, None, allowed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("cannot download {final_url}: HTTP {status}"));
    }
    read_capped(&final_url, response, limit)
}

/// [`get_checked_limited`] for files (recipe downloads, remote configurations).
pub fn get_checked(url: &str, host_allowed: HostCheck) -> Result<Vec<u8>, String> {
    get_checked_limited(url, &host_allowed, FILE_LIMIT)
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
pub fn get_page(url: &str, accept: &str, allowed: &HostCheck) -> Result<Option<(String, Vec<u8>)>, String> {
    let (final_url, response) = send(url, Some(accept), allowed)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("cannot read {final_url}: HTTP {status}"));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = read_capped(&final_url, response, PAGE_LIMIT)?;
    Ok(Some((content_type, body)))
}

/// Resolves `href` against the page it appeared on.
pub fn join_url(base: &str, href: &str) -> String {
    match reqwest::Url::parse(base).and_then(|b| b.join(href)) {
        Ok(url) => url.to_string(),
        Err(_) => href.to_string(),
    }
}
