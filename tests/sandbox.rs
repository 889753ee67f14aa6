//! The sandbox fails closed: every fixture in `tests/fixtures/denials/` makes the
//! `sandbox-probe` recipe try one escape, and bo must stop the part with the exact
//! message (naming the part, the recipe and, where one exists, the grant to add),
//! exit 1, and leave nothing installed. Each fixture runs three times: with the
//! Rust probe, and with the same probe written in C (wasi-libc) and in Python
//! (componentize-py), from `tests/fixtures/probes/`. Then the positive side: what
//! is declared and granted works.

mod support;

use support::TestBuildout;

/// What the probe declares (bo asks for every declared program and named host
/// before anything runs).
const PROBE_PROGRAM: &str = "*:program=true";
const PROBE_HOST: &str = "*:host=127.0.0.1";

/// The probes: the Rust one (built with the example recipes) and its ports.
const PROBES: &[&str] = &["sandbox-probe", "sandbox-probe-c", "sandbox-probe-python"];

fn run_fixture(name: &str, probe: &str) -> Result<(), String> {
    let dir = support::repo_root().join("tests/fixtures/denials").join(name);
    let mut b = TestBuildout::with_recipes();
    let probes = support::repo_root().join("tests/fixtures/probes");
    let path = std::env::join_paths([b.recipe_path.clone(), probes.join("c"), probes.join("python")]).unwrap();
    b.env.push(("BO_RECIPE_PATH".into(), path.to_string_lossy().into_owned()));
    let root = b.root.to_string_lossy().into_owned();
    let config = std::fs::read_to_string(dir.join("buildout.cfg")).unwrap().replace("{root}", &root);
    b.write(
        "buildout.cfg",
        &config.replace("recipe = sandbox-probe\n", &format!("recipe = {probe}\n")),
    );
    std::os::unix::fs::symlink("/etc/hostname", b.root.join("link-out")).unwrap();
    let extra = std::fs::read_to_string(dir.join("args")).unwrap();
    let mut args = vec!["-U", "build"];
    args.extend(extra.split_whitespace());
    // bo asks for every declared capability before anything runs; fixtures that
    // test other denials grant the probe's declared program and host.
    if !["program-not-granted", "host-not-granted"].contains(&name) {
        args.extend(["--grant", PROBE_PROGRAM, "--grant", PROBE_HOST]);
    }
    let mut b = b;
    b.env.push(("BO_PROBE_SECRET".into(), "hunter2".into()));
    b.env.push(("BO_PROBE_VISIBLE".into(), "visible".into()));
    let got = b.bo(&args);
    let mut problems = Vec::new();
    if got.code != 1 {
        problems.push(format!("exit {} (want 1)", got.code));
    }
    let own_words = dir.join(format!("expected-error.{probe}.txt"));
    let expected = std::fs::read_to_string(if own_words.exists() {
        own_words
    } else {
        dir.join("expected-error.txt")
    })
    .unwrap()
    .replace("(recipe sandbox-probe)", &format!("(recipe {probe})"));
    for line in expected.lines().filter(|l| !l.is_empty()) {
        if !got.stderr.contains(line) {
            problems.push(format!("stderr lacks {line:?}"));
        }
    }
    if got.stderr.contains("panicked") || got.stderr.contains("hunter2") || got.stdout.contains("hunter2") {
        problems.push("panic or leaked secret".into());
    }
    if b.root.join(".installed.cfg").exists() || b.root.join("parts/probe").exists() {
        problems.push("something was left installed".into());
    }
    for escaped in ["escape.txt", "../escape.txt"] {
        if b.root.join(escaped).exists() {
            problems.push(format!("{escaped} was written"));
        }
    }
    if std::path::Path::new("/tmp/bo-sandbox-escape.txt").exists() {
        problems.push("/tmp/bo-sandbox-escape.txt was written".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} ({probe}): {}\nstderr: {}", problems.join("; "), got.stderr))
    }
}

#[test]
fn every_denial_fails_closed() {
    let fixtures = support::repo_root().join("tests/fixtures/denials");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "fixtures: {names:?}");
    // A fixture may name the probes it applies to (attacks on host services that
    // only the Rust probe performs).
    let applies = |name: &str, probe: &str| {
        std::fs::read_to_string(fixtures.join(name).join("probes")).map_or(true, |list| list.split_whitespace().any(|p| p == probe))
    };
    let failures: Vec<String> = PROBES
        .iter()
        .flat_map(|probe| names.iter().map(move |n| (n, probe)))
        .filter(|(n, probe)| applies(n, probe))
        .filter_map(|(n, probe)| run_fixture(n, probe).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} denials did not fail closed:\n{}",
        failures.len(),
        names.len() * PROBES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn declared_and_granted_capabilities_work() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("BO_PROBE_VISIBLE".into(), "visible".into()));
    b.write("buildout.cfg", "[buildout]\nparts = ok bin env\n[ok]\nrecipe = sandbox-probe\n[bin]\nrecipe = sandbox-probe\nattack = write-bin\n[env]\nrecipe = sandbox-probe\nattack = env\nvar = BO_PROBE_VISIBLE\n");
    // The env part reports what it saw as an error; with the grant it sees the value.
    let got = b.bo(&[
        "-U",
        "build",
        "--grant",
        "env:env=BO_PROBE_VISIBLE",
        "--grant",
        PROBE_PROGRAM,
        "--grant",
        PROBE_HOST,
    ]);
    assert!(
        got.stderr.contains("environment variable BO_PROBE_VISIBLE is visible: visible"),
        "{}",
        got.stderr
    );
    assert_eq!(b.read("parts/ok/ok.txt"), "ok");
    assert!(b.root.join("bin/probe").exists(), "declared output bin/ is writable by default");
    // Granted program and host: the call goes through.
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = run\n[run]\nrecipe = sandbox-probe\nattack = program\nprogram = true\n",
    );
    let got = b.bo(&["-U", "build", "--grant", "run:program=true", "--grant", PROBE_HOST]);
    assert_eq!(got.code, 0, "{}", got.stderr);
}

#[test]
fn a_failed_part_leaves_the_previous_install_usable() {
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = tinyrecipe\ncontent = one\n[b]\nrecipe = sandbox-probe\nattack = write-bin\n",
    );
    assert_eq!(b.bo(&["-U", "build", "--grant", PROBE_PROGRAM, "--grant", PROBE_HOST]).code, 0);
    let state = b.read(".installed.cfg");
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = tinyrecipe\ncontent = one\n[b]\nrecipe = sandbox-probe\nattack = loop\n",
    );
    let got = b.bo(&[
        "-U",
        "build",
        "--recipe-timeout",
        "1",
        "--grant",
        PROBE_PROGRAM,
        "--grant",
        PROBE_HOST,
    ]);
    assert_eq!(got.code, 1);
    assert_eq!(b.read("parts/a/content.txt"), "one", "the unchanged part stays installed");
    let after = b.read(".installed.cfg");
    assert!(
        after.contains("[a]") && !after.contains("attack = loop"),
        "state file names only what is on disk:\n{after}\nbefore:\n{state}"
    );
    assert!(
        !b.root.join("bin/probe").exists(),
        "the changed part was uninstalled before its failed reinstall"
    );
}
