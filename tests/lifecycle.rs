//! The part lifecycle against zc.buildout 6.0.1: conformance cases 075-084, run with
//! bo's own `tinyrecipe` components (example-recipes/) doing what the corpus's Python
//! test recipe does. Compared per step: the exit code, the sequence of lifecycle
//! lines (Installing/Updating/Uninstalling ...), what the recipe printed, the
//! `.installed.cfg` contents and the `parts/` listing.
//!
//! Also: the progress display (spinners on a terminal, plain lines in CI).
//!
//! Differences the corpus allows: bo has no Python develop eggs (the `develop`
//! option and `installed_develop_eggs` are left out of both sides), recipe
//! signatures are component digests, and Python tracebacks are bo error messages.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::TestBuildout;

fn without_develop(cfg: &str) -> String {
    cfg.lines()
        .filter(|l| !l.starts_with("develop ="))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Lines that show the lifecycle (what bo must do, in order), with Buildout's
/// unused-option warnings.
fn lifecycle_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            [
                "Installing ",
                "Updating ",
                "Uninstalling ",
                "Running uninstall recipe.",
                "Section `",
                "This may be an indication",
            ]
            .iter()
            .any(|p| l.starts_with(p))
                || l.contains("doesn't define an update method")
        })
        .map(String::from)
        .collect()
}

/// What the Python recipe printed (bo prefixes recipe output with the part name).
fn recipe_lines(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with("tinyrecipe: ")).map(String::from).collect()
}

fn normalize_installed(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('\t') && skipping {
            continue;
        }
        skipping = line.starts_with("installed_develop_eggs");
        if skipping {
            continue;
        }
        if let Some(sig) = line.strip_prefix("__buildout_signature__ = ") {
            let name = sig.split('-').next().unwrap_or("");
            out.push(format!("__buildout_signature__ = {name}-{{sig}}"));
            continue;
        }
        out.push(line.to_string());
    }
    // Drop `[buildout]` sections left empty by removing develop eggs.
    let mut cleaned: Vec<String> = Vec::new();
    for (i, line) in out.iter().enumerate() {
        let next = out.get(i + 1).map(String::as_str).unwrap_or("");
        if line == "[buildout]" && (next.is_empty() || next.starts_with('[')) && i > 0 {
            continue;
        }
        cleaned.push(line.clone());
    }
    let text = cleaned.join("\n");
    let mut collapsed = String::new();
    for piece in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        collapsed.push_str(piece.trim_matches('\n'));
        collapsed.push_str("\n\n");
    }
    collapsed.trim_end().to_string()
}

fn parts_listing(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("parts"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn run_case(name: &str) {
    let case = support::repo_root().join("tests/conformance/cases").join(name);
    let mut buildout = TestBuildout::with_recipes();
    buildout.write(
        "buildout.cfg",
        &without_develop(&std::fs::read_to_string(case.join("buildout.cfg")).unwrap()),
    );
    let steps: Value = serde_json::from_str(&std::fs::read_to_string(case.join("steps.json")).unwrap()).unwrap();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap()).unwrap();
    let mut problems = Vec::new();
    for (index, step) in steps.as_array().unwrap().iter().enumerate() {
        let want = &expected["steps"][index];
        for (file, text) in step.get("write").and_then(Value::as_object).into_iter().flatten() {
            buildout.write(file, &without_develop(text.as_str().unwrap()));
        }
        for path in step.get("remove").and_then(Value::as_array).into_iter().flatten() {
            let _ = std::fs::remove_dir_all(buildout.root.join(path.as_str().unwrap()));
        }
        if name.starts_with("084") && index == 1 {
            // The recipe is gone (Buildout: its develop egg was dropped).
            buildout.recipe_path = buildout.root.join("no-recipes");
            buildout.env.push(("BO_BUNDLED_RECIPES".into(), "off".into()));
        }
        let cmd = step["cmd"].as_str().unwrap();
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        // Buildout's sequential semantics: one part at a time (bo's default runs
        // independent parts in parallel; see tests/parallel.rs).
        let mut args = args;
        if args.iter().all(|a| a.starts_with('-')) {
            args.push("build");
        }
        args.push("-j1");
        let got = buildout.bo(&args);
        let step_no = index + 1;
        let want_stdout = want["stdout"].as_str().unwrap();
        if got.code != want["exit_code"].as_i64().unwrap() as i32 {
            problems.push(format!(
                "step {step_no}: exit {} (want {}); stderr: {}",
                got.code, want["exit_code"], got.stderr
            ));
        }
        if lifecycle_lines(&got.stdout) != lifecycle_lines(want_stdout) {
            problems.push(format!(
                "step {step_no}: lifecycle {:?}, want {:?}",
                lifecycle_lines(&got.stdout),
                lifecycle_lines(want_stdout)
            ));
        }
        for line in recipe_lines(want_stdout) {
            if !got.stdout.contains(&line) {
                problems.push(format!("step {step_no}: recipe output {line:?} missing from {:?}", got.stdout));
            }
        }
        if name.starts_with("080") && !got.stderr.contains("recipe failed on purpose") {
            problems.push(format!("step {step_no}: the recipe's error is not shown: {:?}", got.stderr));
        }
        // Without develop eggs, Buildout too deletes a state file that records no parts.
        let records_parts = |text: &String| {
            text.lines()
                .filter(|l| l.starts_with("parts ="))
                .last()
                .is_some_and(|l| l.trim() != "parts =")
        };
        let want_installed = want["installed_cfg"].as_str().map(normalize_installed).filter(records_parts);
        let root = buildout.root.to_string_lossy().into_owned();
        let got_installed = buildout
            .root
            .join(".installed.cfg")
            .is_file()
            .then(|| normalize_installed(&buildout.read(".installed.cfg").replace(&root, "{root}")));
        if want_installed != got_installed {
            problems.push(format!(
                "step {step_no}: .installed.cfg\n--- want\n{want_installed:?}\n--- bo\n{got_installed:?}"
            ));
        }
        let want_parts: Vec<String> = want["parts_dir"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if parts_listing(&buildout.root) != want_parts {
            problems.push(format!(
                "step {step_no}: parts/ holds {:?}, want {want_parts:?}",
                parts_listing(&buildout.root)
            ));
        }
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
}

macro_rules! cases {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            run_case($name);
        }
    )*};
}

cases! {
    lc_075_install_then_noop => "075-lc-install-then-noop",
    lc_076_option_change_reinstalls => "076-lc-option-change-reinstalls",
    lc_077_remove_part_uninstalls => "077-lc-remove-part-uninstalls",
    lc_078_implicit_dependency_order => "078-lc-implicit-dependency-order",
    lc_079_dependency_change_propagates => "079-lc-dependency-change-propagates",
    lc_080_failure_mid_run => "080-lc-failure-mid-run",
    lc_081_missing_files_reinstall => "081-lc-missing-files-reinstall",
    lc_082_noop_recipe_and_unused_option => "082-lc-noop-recipe-and-unused-option",
    lc_083_no_parts_removes_installed_cfg => "083-lc-no-parts-removes-installed-cfg",
    lc_084_uninstall_needs_recipe => "084-lc-uninstall-needs-recipe",
}

/// On a terminal bo draws a spinner per running part (on stderr) and prints the
/// log lines above it; in CI or through a pipe the output is plain lines only.
#[test]
fn progress_display_only_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to give bo a terminal");
    }
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = sandbox-probe\nattack = sleep\nms = 400\n[b]\nrecipe = tinyrecipe\ncontent = x\n",
    );
    let bo = env!("CARGO_BIN_EXE_bo");
    let run = |ci: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args([
                "-qec",
                &format!("{bo} build --grant a:program=true --grant a:host=127.0.0.1"),
                "/dev/null",
            ])
            .current_dir(&b.root)
            .env("HOME", b.root.join("home"))
            .env("BO_RECIPE_PATH", &b.recipe_path)
            .env("BO_CACHE_DIR", support::repo_root().join("target/test-cache"))
            .env("TERM", "xterm");
        match ci {
            Some(value) => command.env("CI", value),
            None => command.env_remove("CI"),
        };
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let live = run(None);
    assert!(live.contains("Installing a. ") && live.contains("\u{1b}[2K"), "{live:?}");
    assert!(live.contains("Installing a.\r\n") && live.contains("Installing b.\r\n"), "{live:?}");
    // Remove the parts, then build again as CI would.
    std::fs::remove_file(b.root.join(".installed.cfg")).unwrap();
    std::fs::remove_dir_all(b.root.join("parts")).unwrap();
    let plain = run(Some("true"));
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(
        plain.contains("Installing a.\r\n") && plain.contains("Installing b.\r\n"),
        "{plain:?}"
    );
}

/// Parts that share an output directory (`bin`) run in parallel; when one fails,
/// what it left in `bin` is removed and what the other recorded there is kept.
#[test]
fn a_parallel_failure_undoes_only_its_own_files() {
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = good bad\n[good]\nrecipe = sandbox-probe\nattack = write-bin\n[bad]\nrecipe = sandbox-probe\nattack = write-bin-fail\n",
    );
    let got = b.bo(&["-U", "build", "-j", "2", "--grant", "*:program=true", "--grant", "*:host=127.0.0.1"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(
        got.stderr
            .contains("part bad (recipe sandbox-probe) failed: failed after writing to bin"),
        "{}",
        got.stderr
    );
    assert!(b.root.join("bin/probe").exists(), "the good part's script stays");
    assert!(!b.root.join("bin/bad-leftover").exists(), "the failed part's file is gone");
    let state = b.read(".installed.cfg");
    assert!(state.contains("[good]") && !state.contains("[bad]"), "{state}");
}

/// Uninstalling a part that recorded nothing leaves no empty `parts/<part>` (the
/// uninstall call's sandbox needed it), as Buildout leaves nothing.
#[test]
fn uninstall_leaves_no_empty_part_directory() {
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", "[buildout]\nparts = n\n[n]\nrecipe = tinyrecipe:noop\n");
    assert_eq!(b.bo(&["-U", "build"]).code, 0);
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/n").exists());
}
