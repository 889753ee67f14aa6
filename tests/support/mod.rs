//! Shared test support: building the example recipes once per test run, and a
//! scratch buildout in which to run the real `bo` binary.

#![allow(dead_code)]

pub mod classic_index;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The example recipes as components, built once per test run: bo's build script
/// builds them (to bundle them) into `target/bundled-recipes`, and the tests use
/// the same files; cargo makes the build here a no-op when they are up to date.
pub fn guest_recipes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let target_dir = root.join("target/bundled-recipes");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(root.join("example-recipes/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building example recipes failed (is the wasm32-wasip2 target installed?)"
        );
        let built = target_dir.join("wasm32-wasip2/release");
        // Components are named by crate (tinyrecipe_noop.wasm); bo looks recipes up
        // by project name (tinyrecipe-noop.wasm), so link them under that name.
        let dir = root.join("target/test-recipes");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&built).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wasm") {
                let name = path.file_name().unwrap().to_string_lossy().replace('_', "-");
                std::fs::copy(&path, dir.join(name)).unwrap();
            }
        }
        dir
    })
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A scratch buildout directory with its own HOME; `bo` runs there with the
/// example recipes on `BO_RECIPE_PATH` and a cache shared by the test run.
pub struct TestBuildout {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub recipe_path: PathBuf,
    /// Extra environment for `bo`.
    pub env: Vec<(String, String)>,
}

impl TestBuildout {
    /// A buildout without recipes (for configuration tests).
    pub fn new() -> TestBuildout {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        let recipe_path = root.join("no-recipes");
        TestBuildout {
            _dir: dir,
            root,
            recipe_path,
            env: Vec::new(),
        }
    }

    /// A buildout whose `BO_RECIPE_PATH` holds the example recipes.
    pub fn with_recipes() -> TestBuildout {
        let mut b = TestBuildout::new();
        b.recipe_path = guest_recipes().to_path_buf();
        b
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(name)).unwrap_or_default()
    }

    pub fn bo(&self, args: &[&str]) -> Outcome {
        let out = Command::new(env!("CARGO_BIN_EXE_bo"))
            .args(args)
            .current_dir(&self.root)
            .env("HOME", self.root.join("home"))
            .env("BO_RECIPE_PATH", &self.recipe_path)
            .env("BO_CACHE_DIR", repo_root().join("target/test-cache"))
            .env_remove("BUILDOUT_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("BO_GRANTS_FILE")
            .env("DOCKER_CONFIG", self.root.join("home/.docker"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bo runs");
        let root = self.root.to_string_lossy().into_owned();
        let norm = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "{root}");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: norm(&out.stdout),
            stderr: norm(&out.stderr),
        }
    }
}

/// Tools the Python tests need, installed once into `target/test-tools`: a venv
/// with simple-repository-server and pypiserver, and real wheels from PyPI.
pub struct PythonTools {
    pub venv: PathBuf,
    pub wheels: PathBuf,
    /// `<root>/<project>/<files>`: the layout simple-repository-server serves.
    pub index_tree: PathBuf,
}

/// The wheels the tests use (downloaded once, then cached).
pub const TEST_WHEELS: &[&str] = &[
    "six==1.16.0",
    "six==1.17.0",
    "python-dateutil==2.9.0.post0",
    "attrs==25.3.0",
    "idna==3.10",
    "pyflakes==3.2.0",
    // The build backend for the source-distribution tests.
    "setuptools==75.8.0",
];

pub fn python_tools() -> &'static PythonTools {
    static TOOLS: OnceLock<PythonTools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let base = repo_root().join("target/test-tools");
        let venv = base.join("venv");
        let wheels = base.join("wheels");
        let run = |cmd: &mut Command| {
            let out = cmd.output().expect("command runs");
            assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        };
        let packages = ["simple-repository-server", "pypiserver", "oras", "componentize-py==0.25.1"];
        let installed = venv.join(".installed");
        if std::fs::read_to_string(&installed).ok().as_deref() != Some(packages.join(" ").as_str()) {
            if !venv.join("bin/pip").exists() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            }
            run(Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(packages));
            std::fs::write(&installed, packages.join(" ")).unwrap();
        }
        let marker = wheels.join(".complete");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(TEST_WHEELS.join(" ").as_str()) {
            std::fs::create_dir_all(&wheels).unwrap();
            // One at a time: pip refuses two versions of one project in one call.
            for wheel in TEST_WHEELS {
                run(Command::new(venv.join("bin/pip"))
                    .args(["download", "-q", "--no-deps", "--only-binary=:all:", "-d"])
                    .arg(&wheels)
                    .arg(wheel)
                    .env("PIP_FIND_LINKS", ""));
            }
            std::fs::write(&marker, TEST_WHEELS.join(" ")).unwrap();
        }
        let index_tree = base.join("index");
        for entry in std::fs::read_dir(&wheels).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(project) = name.strip_suffix(".whl").and_then(|s| s.split('-').next()) {
                let dir = index_tree.join(project.to_lowercase().replace('_', "-"));
                std::fs::create_dir_all(&dir).unwrap();
                let _ = std::fs::copy(entry.path(), dir.join(&name));
            }
        }
        PythonTools { venv, wheels, index_tree }
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a server that stops when this test process exits (a watcher shell kills
/// it once our pid is gone), and waits until `ready` answers.
fn start_server(command: &str, ready: &str) {
    let script = format!(
        "{command} >/dev/null 2>&1 & S=$!; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill $S",
        pid = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("sh runs");
    for _ in 0..200 {
        if let Ok(out) = Command::new("curl").args(["-fsS", "-o", "/dev/null", ready]).output()
            && out.status.success()
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("server did not come up: {command}");
}

/// simple-repository-server (PEP 691 JSON + PEP 658 metadata) on 127.0.0.1.
pub fn json_index() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let tools = python_tools();
        let port = free_port();
        let server = tools.venv.join("bin/simple-repository-server");
        start_server(
            &format!("{} --host 127.0.0.1 --port {port} {}", server.display(), tools.index_tree.display()),
            &format!("http://127.0.0.1:{port}/simple/"),
        );
        format!("http://127.0.0.1:{port}/simple/")
    })
}

/// pypiserver (PEP 503 HTML only, sha256 fragments) on 127.0.0.1.
pub fn html_index() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let tools = python_tools();
        let port = free_port();
        let server = tools.venv.join("bin/pypi-server");
        start_server(
            &format!(
                "{} run -i 127.0.0.1 -p {port} -a . -P . --disable-fallback {}",
                server.display(),
                tools.wheels.display()
            ),
            &format!("http://127.0.0.1:{port}/health"),
        );
        format!("http://127.0.0.1:{port}/simple/")
    })
}

/// A Debian `docker-registry` on 127.0.0.1, configured by the test: plain HTTP,
/// with basic auth (user `tester`, password `secret`), or TLS with a test CA.
pub struct Registry {
    pub address: String,
    /// The CA certificate clients must trust (TLS registries only).
    pub ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq)]
pub enum RegistryKind {
    Plain,
    BasicAuth,
    Tls,
}

pub fn registry(kind: RegistryKind) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let port = free_port();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-only\n",
        root.join("data").display()
    );
    let sh = |script: &str| {
        let out = Command::new("sh").args(["-c", script]).current_dir(&root).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let mut ca = None;
    if kind == RegistryKind::BasicAuth {
        sh("htpasswd -Bbn tester secret > htpasswd");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            root.join("htpasswd").display()
        ));
    }
    if kind == RegistryKind::Tls {
        sh(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null \
            && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr 2>/dev/null \
            && printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\n' > leaf.ext \
            && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile leaf.ext -out cert.pem 2>/dev/null",
        );
        config.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            root.join("cert.pem").display(),
            root.join("key.pem").display()
        ));
        ca = Some(root.join("ca.pem"));
    }
    std::fs::write(root.join("registry.yml"), config).unwrap();
    let (scheme, extra) = if kind == RegistryKind::Tls {
        ("https", format!("--cacert {}", root.join("ca.pem").display()))
    } else {
        ("http", String::new())
    };
    // A 401 still means the registry is up.
    let script = format!(
        "docker-registry serve {cfg} >/dev/null 2>&1 & S=$!; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill $S",
        cfg = root.join("registry.yml").display(),
        pid = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("{scheme}://127.0.0.1:{port}/v2/");
    for _ in 0..200 {
        let out = Command::new("sh")
            .args(["-c", &format!("curl -s -o /dev/null -w '%{{http_code}}' {extra} {url}")])
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&out.stdout).to_string();
        if code == "200" || code == "401" {
            return Registry {
                address: format!("127.0.0.1:{port}"),
                ca,
                _dir: dir,
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("registry did not start");
}

/// A minimal HTTP/1.1 file server on 127.0.0.1 for the test's lifetime; returns its
/// base URL and a switch that takes it down (every answer becomes a 404).
pub fn serve(files: std::collections::HashMap<String, Vec<u8>>) -> (String, std::sync::Arc<std::sync::Mutex<bool>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let up = std::sync::Arc::new(std::sync::Mutex::new(true));
    let flag = up.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok() && line.trim() != "" {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/');
            let mut stream = stream;
            match files.get(path) {
                Some(body) if *flag.lock().unwrap() => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body));
                }
                _ => {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    (base, up)
}

/// componentize-js from npm, installed once into `target/test-tools/js`; returns
/// its `node_modules`.
pub fn js_tools() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let base = repo_root().join("target/test-tools/js");
        let marker = base.join(".installed-componentize-js-0.23.0");
        if !marker.exists() {
            std::fs::create_dir_all(&base).unwrap();
            std::fs::write(base.join("package.json"), "{\"private\": true}\n").unwrap();
            let out = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "@bytecodealliance/componentize-js@0.23.0"])
                .current_dir(&base)
                .output()
                .expect("npm runs");
            assert!(out.status.success(), "npm install failed: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(&marker, "").unwrap();
        }
        base.join("node_modules")
    })
}

/// Every file below `dir` (recursively).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

impl TestBuildout {
    /// Starts `bo` in the buildout without waiting (output piped), with `cache` as
    /// its cache.
    pub fn spawn(&self, cache: &Path, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_bo"))
            .args(args)
            .current_dir(&self.root)
            .env("HOME", self.root.join("home"))
            .env("BO_CACHE_DIR", cache)
            .env("BO_RECIPE_PATH", &self.recipe_path)
            .env_remove("BO_GRANTS_FILE")
            .env("CI", "true")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// A directory outside the buildout holding a canary file.
pub fn canary() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().canonicalize().unwrap().join("canary");
    std::fs::write(&file, "untouched\n").unwrap();
    (dir, file)
}

/// An HTTP server on 127.0.0.1 that counts the requests reaching it (and answers 404).
pub fn counting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stream.try_clone().unwrap()), &mut line);
            let mut stream = stream;
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (base, count)
}

/// simple-repository-server on 127.0.0.1 serving `tree` (`<project>/<files>`).
pub fn serve_index(tree: &Path) -> String {
    let tools = python_tools();
    let port = free_port();
    let server = tools.venv.join("bin/simple-repository-server");
    start_server(
        &format!("{} --host 127.0.0.1 --port {port} {}", server.display(), tree.display()),
        &format!("http://127.0.0.1:{port}/simple/"),
    );
    format!("http://127.0.0.1:{port}/simple/")
}

/// Writes a pure-Python wheel of `name` `version` holding `files` (a METADATA,
/// WHEEL and RECORD are added).
pub fn write_wheel(path: &Path, name: &str, version: &str, files: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let dist_info = format!("{}-{version}.dist-info", name.replace('-', "_"));
    let mut all: Vec<(String, String)> = files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    all.push((
        format!("{dist_info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
    ));
    all.push((
        format!("{dist_info}/WHEEL"),
        "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".into(),
    ));
    let script = "import sys, zipfile, json, hashlib, base64\nfiles = json.load(sys.stdin)\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    record = []\n    for name, text in files:\n        z.writestr(name, text)\n        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()\n        record.append('%s,sha256=%s,%d' % (name, digest, len(text.encode())))\n    record.append(sys.argv[2] + '/RECORD,,')\n    z.writestr(sys.argv[2] + '/RECORD', '\\n'.join(record) + '\\n')\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(&dist_info)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let json = serde_json::to_string(&all).unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), json.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}
