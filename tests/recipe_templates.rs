//! `bo recipe new --language L` scaffolds a recipe that builds (`bo recipe build`,
//! which runs the template's build.sh with the language's real toolchain) and
//! works in a real `bo build`: Python through componentize-py and JavaScript
//! through componentize-js, both installed by the test harness from PyPI and npm.
//! The C template needs clang, wasi-libc, wit-bindgen and wasm-tools, which CI does
//! not install (wit-bindgen and wasm-tools take minutes to build); it runs where
//! they are on PATH.

mod support;

use std::path::Path;
use std::process::Command;

use support::TestBuildout;

fn bo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bo"))
}

fn scaffold_and_build(dir: &Path, language: &str, name: &str, path: &str) {
    let out = bo()
        .args(["recipe", "new", "--language", language, name])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    if language == "javascript" {
        std::os::unix::fs::symlink(support::js_tools(), dir.join(name).join("node_modules")).unwrap();
    }
    let out = bo()
        .args(["recipe", "build", name])
        .current_dir(dir)
        .env("PATH", path)
        .env("BO_CACHE_DIR", support::repo_root().join("target/test-cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("built {name}/{name}.wasm")), "{stdout}");
}

fn tool_path(extra: &Path) -> String {
    format!("{}:{}", extra.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn python_and_javascript_templates_build_and_run() {
    let b = TestBuildout::new();
    let venv_bin = support::python_tools().venv.join("bin");
    scaffold_and_build(&b.root, "python", "hello-py", &tool_path(&venv_bin));
    scaffold_and_build(&b.root, "javascript", "hello-js", &tool_path(Path::new("/nonexistent")));
    b.write("data/notes.txt", "notes\n");
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = py js\n\n[py]\nrecipe = hello-py/hello-py.wasm\ngreeting = hello from Python\n\n[js]\nrecipe = hello-js/hello-js.wasm\nsource = data/notes.txt\n",
    );
    let got = b.bo(&["build", "-j1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(b.read("parts/py/hello.txt"), "hello from Python");
    assert_eq!(b.read("parts/js/notes.txt"), "notes\n");
    assert!(
        got.stdout.contains("py: greeted") && got.stdout.contains("js: copied {root}/data/notes.txt"),
        "{}",
        got.stdout
    );
    // Uninstall removes what they returned.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    assert_eq!(b.bo(&["build"]).code, 0);
    assert!(!b.root.join("parts/py").exists() && !b.root.join("parts/js").exists());
}

#[test]
fn c_template_builds_and_runs_where_its_toolchain_is_installed() {
    let missing: Vec<&str> = ["clang", "wit-bindgen", "wasm-tools"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
        return;
    }
    let b = TestBuildout::new();
    scaffold_and_build(&b.root, "c", "hello-c", &std::env::var("PATH").unwrap_or_default());
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = c\n\n[c]\nrecipe = hello-c/hello-c.wasm\ngreeting = hello from C\n",
    );
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(b.read("parts/c/hello.txt"), "hello from C");
}
