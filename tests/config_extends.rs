//! Remote `extends` and the extends cache, against a real HTTP server on 127.0.0.1
//! started by the test: relative extends inside a downloaded file resolve against
//! its URL, downloads are kept in `extends-cache`, and offline mode uses only the
//! cache (or says clearly that it cannot download).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::TestBuildout;

fn serve(files: HashMap<&'static str, &'static str>) -> (String, Arc<Mutex<bool>>) {
    support::serve(files.into_iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect())
}

#[test]
fn remote_extends_with_cache_and_offline() {
    let files = HashMap::from([
        ("conf/base.cfg", "[buildout]\nextends = common.cfg\n[a]\nx = from base\n"),
        ("conf/common.cfg", "[a]\ny = from common\nx = from common\n"),
    ]);
    let (base, up) = serve(files);
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nextends = {base}/conf/base.cfg\nextends-cache = cache\nparts =\n[a]\nz = ${{a:x}} / ${{a:y}}\n"),
    );
    std::fs::create_dir_all(b.root.join("cache")).unwrap();

    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "query", "--json"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let json: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(json["sections"]["a"]["z"], "from base / from common");
    assert_eq!(std::fs::read_dir(b.root.join("cache")).unwrap().count(), 2, "both files are cached");

    // Offline, with the server gone: the cache answers.
    *up.lock().unwrap() = false;
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "-o", "query", "--json"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "query", "a:z"]);
    assert_eq!(got.code, 0, "newest mode falls back to the cache: {}", got.stderr);

    // Offline without a cached copy: a clear error naming the URL.
    std::fs::remove_dir_all(b.root.join("cache")).unwrap();
    std::fs::create_dir_all(b.root.join("cache")).unwrap();
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "-o", "annotate"]);
    assert_eq!(got.code, 1);
    assert!(
        got.stderr
            .contains(&format!("error: Couldn't download '{base}/conf/base.cfg' in offline mode.")),
        "{}",
        got.stderr
    );
}

#[test]
fn unreachable_extends_names_the_url() {
    let (base, up) = serve(HashMap::new());
    *up.lock().unwrap() = false;
    let b = TestBuildout::new();
    b.write("buildout.cfg", &format!("[buildout]\nextends = {base}/missing.cfg\nparts =\n"));
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "annotate"]);
    assert_eq!(got.code, 1);
    assert!(
        got.stderr.contains(&format!("{base}/missing.cfg")) && got.stderr.contains("404"),
        "{}",
        got.stderr
    );
}

#[test]
fn errors_name_the_file_and_line() {
    let b = TestBuildout::new();
    b.write("base.cfg", "[buildout]\nparts =\n[a]\nok = 1\nnot an option\n");
    b.write("buildout.cfg", "[buildout]\nextends = base.cfg\n");
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "annotate"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("{root}/base.cfg:5"), "{}", got.stderr);
    assert!(!got.stderr.contains("panicked"));
}

/// A server that accepts and never answers: `-t SECONDS` stops the wait, and the
/// error names the URL (Buildout's `socket-timeout`).
#[test]
fn a_silent_server_times_out_with_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/base.cfg", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // accepted, never answered
        }
    });
    let b = TestBuildout::new();
    b.write("buildout.cfg", &format!("[buildout]\nextends = {url}\nparts =\n"));
    let started = std::time::Instant::now();
    let got = b.bo(&["-U", "-t", "2", "--grant", "buildout:host=127.0.0.1", "query", "--json"]);
    assert_eq!(got.code, 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(got.stderr.contains(&url) && got.stderr.contains("timeout"), "{}", got.stderr);
}

/// The default interpreter is the real one, not a version manager's shim (as
/// Buildout writes `sys.executable` into scripts).
#[test]
fn the_default_interpreter_is_not_a_shim() {
    let b = TestBuildout::new();
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["-U", "query", "buildout:executable"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let executable = got.stdout.trim();
    assert!(!executable.contains("/shims/"), "{executable}");
    let real = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    assert_eq!(executable, String::from_utf8_lossy(&real.stdout).trim());
}
