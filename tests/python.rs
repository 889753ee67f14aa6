//! Python distributions against real indexes on 127.0.0.1 (simple-repository-server
//! for PEP 691 JSON + PEP 658 metadata, pypiserver for HTML only) serving real
//! wheels from PyPI: resolution, installation into the store, scripts that run, and
//! every bad input failing clearly with nothing half-installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use bo::python::index::IndexSettings;
use bo::python::resolve::ResolveSettings;
use bo::python::{self, InstallSettings};

fn settings(index: &str, store: &Path, cache: &Path) -> InstallSettings {
    InstallSettings {
        executable: "python3".into(),
        index: IndexSettings {
            index: Some(index.into()),
            find_links: vec![],
            allow_hosts: vec![],
            grant: bo::net::any_host(),
            offline: false,
            cache: cache.into(),
        },
        resolve: ResolveSettings {
            prefer_final: true,
            allow_picked_versions: true,
            newest: true,
            ..Default::default()
        },
        store: store.into(),
        part: "app".into(),
        develop: vec![],
        allow_build: vec![],
        fixed_target: None,
        provided: vec![],
    }
}

fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("eggs");
    let cache = dir.path().join("cache");
    (dir, store, cache)
}

fn python_prints(script: &Path, code: &str) -> String {
    let out = Command::new(script).args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn json_index_resolves_dependencies_and_scripts_run() {
    let (dir, store, cache) = scratch();
    let s = settings(support::json_index(), &store, &cache);
    let installed = python::install(&["python-dateutil".into()], &s).unwrap();
    let names: Vec<&str> = installed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["python-dateutil", "six"]);
    assert_eq!(installed[1].required_by, ["python-dateutil 2.9.0.post0"]);
    let request = python::scripts::ScriptsRequest {
        executable: "/usr/bin/env python3".into(),
        path: installed.iter().map(|d| d.location.to_string_lossy().into_owned()).collect(),
        interpreter: Some("py".into()),
        bin_directory: dir.path().join("bin"),
        ..Default::default()
    };
    python::scripts::write(&request).unwrap();
    let got = python_prints(
        &dir.path().join("bin/py"),
        "import dateutil, six; print(dateutil.__version__, six.__version__)",
    );
    assert_eq!(got, "2.9.0.post0 1.17.0");
}

#[test]
fn two_versions_side_by_side_with_pins() {
    let (dir, store, cache) = scratch();
    let mut s = settings(support::html_index(), &store, &cache);
    let old = python::install(&["six==1.16.0".into()], &s).unwrap();
    s.resolve.pins.insert("six".into(), "1.17.0".into());
    let new = python::install(&["six".into()], &s).unwrap();
    assert_ne!(old[0].location, new[0].location);
    for (name, dist, want) in [("old", &old[0], "1.16.0"), ("new", &new[0], "1.17.0")] {
        let request = python::scripts::ScriptsRequest {
            executable: "/usr/bin/env python3".into(),
            path: vec![dist.location.to_string_lossy().into_owned()],
            interpreter: Some(name.into()),
            bin_directory: dir.path().join("bin"),
            ..Default::default()
        };
        python::scripts::write(&request).unwrap();
        assert_eq!(
            python_prints(&dir.path().join("bin").join(name), "import six; print(six.__version__)"),
            want
        );
    }
    assert!(!new[0].picked && old[0].picked == false);
}

#[test]
fn console_scripts_are_found() {
    let (_dir, store, cache) = scratch();
    let installed = python::install(&["pyflakes".into()], &settings(support::json_index(), &store, &cache)).unwrap();
    assert_eq!(
        installed[0].console_scripts,
        [("pyflakes".to_string(), "pyflakes.api:main".to_string())]
    );
}

#[test]
fn unsatisfiable_pins_and_missing_distributions_are_clear() {
    let (_dir, store, cache) = scratch();
    let mut s = settings(support::json_index(), &store, &cache);
    s.resolve.pins.insert("six".into(), "1.16.0".into());
    let err = python::install(&["six>=1.17".into()], &s).unwrap_err();
    assert!(err.contains("is not allowed by your [versions] constraint (1.16.0)"), "{err}");
    let err = python::install(&["no-such-project".into()], &s).unwrap_err();
    assert!(err.contains("Couldn't find a distribution for 'no-such-project'"), "{err}");
    s.resolve.pins.clear();
    let err = python::install(&["six>=99".into()], &s).unwrap_err();
    assert!(err.contains("available: 1.16.0, 1.17.0"), "{err}");
    assert!(
        !store.exists()
            || std::fs::read_dir(&store)
                .unwrap()
                .flatten()
                .all(|e| e.file_name().to_string_lossy().starts_with('.'))
    );
}

#[test]
fn conflicts_name_both_sides() {
    let (_dir, store, cache) = scratch();
    let s = settings(support::json_index(), &store, &cache);
    let err = python::install(&["six==1.16.0".into(), "python-dateutil".into(), "six>=1.17".into()], &s).unwrap_err();
    assert!(
        err.contains("version conflict for six") && err.contains("six 1.16.0 was chosen"),
        "{err}"
    );
}

#[test]
fn index_down_and_offline_without_cache() {
    let (_dir, store, cache) = scratch();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = settings(&format!("http://127.0.0.1:{port}/simple/"), &store, &cache);
    let err = python::install(&["six".into()], &s).unwrap_err();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let mut s = settings(support::json_index(), &store, &cache);
    s.index.offline = true;
    let err = python::install(&["six".into()], &s).unwrap_err();
    assert!(
        err.contains("We don't have a distribution for 'six' and can't install one in offline mode"),
        "{err}"
    );
    // Once cached, offline works.
    s.index.offline = false;
    python::install(&["six".into()], &s).unwrap();
    std::fs::remove_dir_all(&store).unwrap();
    s.index.offline = true;
    python::install(&["six".into()], &s).unwrap();
}

fn write_wheel(path: &Path, files: &[(&str, &[u8])], record_override: Option<&str>) {
    let script = r#"
import sys, zipfile, hashlib, base64, json
path, files, record = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(path, "w") as z:
    lines = []
    for name, text in files:
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append("evil-1.0.dist-info/RECORD,,")
    if record == "corrupt":
        lines = [l.replace(l.split(",")[1], "sha256=AAAA") if l.startswith("evil.py,") else l for l in lines]
    z.writestr("evil-1.0.dist-info/RECORD", "\n".join(lines) + "\n")
"#;
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, b)| (n.to_string(), String::from_utf8_lossy(b).into_owned()))
        .collect();
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(serde_json::to_string(&files).unwrap())
        .arg(record_override.unwrap_or(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

const META: &[u8] = b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n";

#[test]
fn bad_wheels_are_refused_and_leave_nothing() {
    let (dir, store, cache) = scratch();
    let links = dir.path().join("links");
    std::fs::create_dir_all(&links).unwrap();
    let wheel = links.join("evil-1.0-py3-none-any.whl");
    let mut s = settings(support::json_index(), &store, &cache);
    s.index.index = None;
    s.index.find_links = vec![links.to_string_lossy().into_owned()];

    write_wheel(
        &wheel,
        &[("evil-1.0.dist-info/METADATA", META), ("../../escape.py", b"x = 1\n")],
        None,
    );
    let err = python::install(&["evil".into()], &s).unwrap_err();
    assert!(err.contains("outside the installation directory"), "{err}");
    assert!(!dir.path().join("escape.py").exists());

    write_wheel(
        &wheel,
        &[("evil-1.0.dist-info/METADATA", META), ("evil.py", b"x = 1\n")],
        Some("corrupt"),
    );
    let err = python::install(&["evil".into()], &s).unwrap_err();
    assert!(err.contains("does not match its RECORD hash"), "{err}");

    std::fs::write(&wheel, b"PK\x03\x04 this is not a zip").unwrap();
    let err = python::install(&["evil".into()], &s).unwrap_err();
    assert!(err.contains("evil-1.0-py3-none-any.whl"), "{err}");

    let leftovers: Vec<String> = std::fs::read_dir(&store)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".locks"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "half-installed: {leftovers:?}");
}
