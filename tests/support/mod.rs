//! Shared test support: building the example recipes once per test run, and a
//! scratch buildout in which to run the real `bo` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds `example-recipes/` for wasm32-wasip2 (once per test process; cargo makes
/// later builds no-ops) and returns the directory holding the `.wasm` components.
pub fn guest_recipes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let manifest = root.join("example-recipes/Cargo.toml");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(&manifest)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building example recipes failed (is the wasm32-wasip2 target installed?)");
        let built = root.join("example-recipes/target/wasm32-wasip2/release");
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
}

impl TestBuildout {
    /// A buildout without recipes (for configuration tests).
    pub fn new() -> TestBuildout {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        let recipe_path = root.join("no-recipes");
        TestBuildout { _dir: dir, root, recipe_path }
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
            .output()
            .expect("bo runs");
        let root = self.root.to_string_lossy().into_owned();
        let norm = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "{root}");
        Outcome { code: out.status.code().unwrap_or(-1), stdout: norm(&out.stdout), stderr: norm(&out.stderr) }
    }
}
