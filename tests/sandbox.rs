//! The sandbox fails closed: every fixture in `tests/fixtures/denials/` makes the
//! `sandbox-probe` recipe try one escape, and bo must stop the part with the exact
//! message (naming the part, the recipe and, where one exists, the grant to add),
//! exit 1, and leave nothing installed. Then the positive side: what is declared
//! and granted works.

mod support;

use support::TestBuildout;

fn run_fixture(name: &str) -> Result<(), String> {
    let dir = support::repo_root().join("tests/fixtures/denials").join(name);
    let b = TestBuildout::with_recipes();
    let root = b.root.to_string_lossy().into_owned();
    b.write(
        "buildout.cfg",
        &std::fs::read_to_string(dir.join("buildout.cfg")).unwrap().replace("{root}", &root),
    );
    std::os::unix::fs::symlink("/etc/hostname", b.root.join("link-out")).unwrap();
    let extra = std::fs::read_to_string(dir.join("args")).unwrap();
    let mut args = vec!["-U", "build"];
    args.extend(extra.split_whitespace());
    let mut b = b;
    b.env.push(("BO_PROBE_SECRET".into(), "hunter2".into()));
    b.env.push(("BO_PROBE_VISIBLE".into(), "visible".into()));
    let got = b.bo(&args);
    let mut problems = Vec::new();
    if got.code != 1 {
        problems.push(format!("exit {} (want 1)", got.code));
    }
    for line in std::fs::read_to_string(dir.join("expected-error.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
    {
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
        Err(format!("{name}: {}\nstderr: {}", problems.join("; "), got.stderr))
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
    let failures: Vec<String> = names.iter().filter_map(|n| run_fixture(n).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} denials did not fail closed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}

#[test]
fn declared_and_granted_capabilities_work() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("BO_PROBE_VISIBLE".into(), "visible".into()));
    b.write("buildout.cfg", "[buildout]\nparts = ok bin env\n[ok]\nrecipe = sandbox-probe\n[bin]\nrecipe = sandbox-probe\nattack = write-bin\n[env]\nrecipe = sandbox-probe\nattack = env\nvar = BO_PROBE_VISIBLE\n");
    // The env part reports what it saw as an error; with the grant it sees the value.
    let got = b.bo(&["-U", "build", "--grant", "env:env=BO_PROBE_VISIBLE"]);
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
    let got = b.bo(&["-U", "build", "--grant", "run:program=true"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
}

#[test]
fn a_failed_part_leaves_the_previous_install_usable() {
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = tinyrecipe\ncontent = one\n[b]\nrecipe = sandbox-probe\nattack = write-bin\n",
    );
    assert_eq!(b.bo(&["-U", "build"]).code, 0);
    let state = b.read(".installed.cfg");
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = tinyrecipe\ncontent = one\n[b]\nrecipe = sandbox-probe\nattack = loop\n",
    );
    let got = b.bo(&["-U", "build", "--recipe-timeout", "1"]);
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
