//! The local index of the classic-recipe tests: the exact PyPI files zc.buildout
//! 6.0.1 used when the classic cases were recorded, downloaded once, served on
//! 127.0.0.1 by simple-repository-server.

use std::process::Command;
use std::sync::OnceLock;

use super::{python_tools, repo_root};

/// Files the runner needs beyond what Buildout installed natively: sdists of
/// projects whose only wheels are platform-specific.
const PURE_SOURCES: &[&str] = &["zope.interface==8.7", "markupsafe==3.0.4"];

/// Pure wheels the recipes need in the runner that Buildout took from its own
/// venv (zc.recipe.testrunner requires packaging).
const RUNNER_WHEELS: &[&str] = &["packaging==24.2"];

/// The exact files of every recorded case, from PyPI (once), served on 127.0.0.1.
pub fn classic_index() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let tools = python_tools();
        let base = repo_root().join("target/test-tools");
        let files = base.join("classic-files");
        let tree = base.join("classic-index");
        std::fs::create_dir_all(&files).unwrap();
        let mut wanted: Vec<(String, Option<String>)> = Vec::new();
        for case in std::fs::read_dir(repo_root().join("tests/fixtures/classic-recorded"))
            .unwrap()
            .flatten()
        {
            let Ok(text) = std::fs::read_to_string(case.path().join("files.txt")) else {
                continue;
            };
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let mut words = line.split_whitespace();
                if let (Some(spec), Some(file)) = (words.next(), words.next()) {
                    wanted.push((spec.to_string(), Some(file.to_string())));
                }
            }
        }
        // zc.buildout's own files: mr.developer's bin/develop imports zc.buildout.
        let tool_files = std::fs::read_to_string(repo_root().join("tests/fixtures/classic-recorded/tool-files.txt")).unwrap();
        for line in tool_files.lines().filter(|l| !l.starts_with('#')) {
            let mut words = line.split_whitespace();
            if let (Some(spec), Some(file)) = (words.next(), words.next()) {
                wanted.push((spec.to_string(), Some(file.to_string())));
            }
        }
        wanted.extend(PURE_SOURCES.iter().map(|s| (s.to_string(), None)));
        wanted.extend(
            RUNNER_WHEELS
                .iter()
                .map(|s| (s.to_string(), Some(format!("{}.whl", s.replace("==", "-"))))),
        );
        for (spec, file) in &wanted {
            let sdist = file.as_ref().is_none_or(|f| f.ends_with(".tar.gz") || f.ends_with(".zip"));
            if let Some(file) = file
                && files.join(file).is_file()
            {
                continue;
            }
            let marker = files.join(format!(".{spec}.{}", if sdist { "sdist" } else { "wheel" }));
            if marker.exists() {
                continue;
            }
            let out = Command::new(tools.venv.join("bin/pip"))
                .args(["download", "-q", "--no-deps", "-d"])
                .arg(&files)
                .arg(if sdist { "--no-binary=:all:" } else { "--only-binary=:all:" })
                .arg(spec)
                .env("PIP_FIND_LINKS", "")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pip download {spec}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(&marker, "").unwrap();
        }
        for entry in std::fs::read_dir(&files).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let project = if let Some(stem) = name.strip_suffix(".whl") {
                stem.split('-').next().unwrap().to_string()
            } else {
                let stem = name.trim_end_matches(".tar.gz").trim_end_matches(".zip");
                stem.rsplit_once('-').map(|(p, _)| p.to_string()).unwrap_or_default()
            };
            let dir = tree.join(project.to_lowercase().replace(['_', '.'], "-"));
            std::fs::create_dir_all(&dir).unwrap();
            if !dir.join(&name).exists() {
                std::fs::copy(entry.path(), dir.join(&name)).unwrap();
            }
        }
        super::serve_index(&tree)
    })
}
