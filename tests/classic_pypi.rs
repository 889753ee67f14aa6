//! Classic Python recipes from PyPI, unmodified, run by `bo build` in the
//! classic-recipe runner (sandboxed), against a local simple-repository-server
//! seeded at test setup with the exact PyPI files zc.buildout 6.0.1 used when its
//! output was recorded (`tests/fixtures/classic-recorded/`, see its README). The
//! runner is CPython on WASI, so the recipes' own dependencies must be pure
//! Python: the index also holds the sdists of zope.interface and MarkupSafe,
//! which bo makes pure from their egg-info (their C speedups are left out).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::classic_index::classic_index;
use support::{TestBuildout, repo_root};

fn recorded(case: &str) -> PathBuf {
    repo_root().join("tests/fixtures/classic-recorded").join(case)
}

/// A recorded case's buildout, pointed at the local index (Buildout's recording
/// used an empty index and a find-links directory of the same files).
fn case_buildout(case: &str) -> TestBuildout {
    let b = TestBuildout::new();
    copy_tree(
        &recorded(case),
        &b.root,
        &["expected", "output.txt", "output-rerun.txt", "files.txt"],
    );
    let config = b.read("buildout.cfg");
    let config: String = config
        .lines()
        .filter(|l| !l.starts_with("find-links ="))
        .map(|l| {
            if l.starts_with("index =") {
                format!("index = {}", classic_index())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // zc.buildout counts its own venv's setuptools and packaging as installed;
    // bo installs them like any distribution, so they are pinned as Buildout had them.
    let config = config.replace("[versions]\n", "[versions]\nsetuptools = 84.2.1\npackaging = 24.2\n");
    b.write("buildout.cfg", &(config + "\n"));
    b
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, &[]);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `bo` with the test index granted (the configuration names it, so it is not
/// the user's own).
fn bo(b: &TestBuildout, args: &[&str]) -> support::Outcome {
    let mut all = vec!["--grant", "buildout:host=127.0.0.1"];
    all.extend(args);
    b.bo(&all)
}

fn normalized(name: &str) -> String {
    name.to_lowercase().replace(['-', '.'], "_")
}

#[test]
fn slapos_recipe_template_output_equals_buildout() {
    let b = case_buildout("slapos-recipe-template");
    // A classic recipe's part writes only what it is granted, and never the
    // buildout directory itself: the outputs go to `out/` (Buildout's recording
    // wrote them beside buildout.cfg; their contents are the same).
    b.write(
        "buildout.cfg",
        &b.read("buildout.cfg")
            .replace("output = ${buildout:directory}/", "output = ${buildout:directory}/out/"),
    );
    let denied = bo(&b, &["build"]);
    assert_ne!(denied.code, 0);
    assert!(
        ["inline-template", "url-template", "jinja2-template"]
            .iter()
            .any(|part| denied.stderr.contains(&format!("`--grant {part}:write=out`"))),
        "{}",
        denied.stderr
    );
    let grants = [
        "--grant",
        "inline-template:write=out",
        "--grant",
        "url-template:write=out",
        "--grant",
        "jinja2-template:write=out",
    ];
    let mut args = vec!["build"];
    args.extend(grants);
    let got = bo(&b, &args);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    for file in ["inline.out", "template.out", "jinja2.out"] {
        let expected = std::fs::read_to_string(recorded("slapos-recipe-template/expected").join(file)).unwrap();
        let expected = expected.replace("{root}", &b.root.to_string_lossy());
        assert_eq!(b.read(&format!("out/{file}")), expected, "{file}\n{}\n{}", got.stdout, got.stderr);
    }
    // The recipe (an sdist) and its dependencies are locked for the part.
    // Pinned by [versions], from the buildout's index (nothing picked).
    assert!(!got.stdout.contains("Versions had to be automatically picked"), "{}", got.stdout);
    let lock = b.read("bo.lock");
    assert!(lock.contains("127.0.0.1"), "{lock}");
    assert!(lock.contains("inline-template:recipe"), "{lock}");
    assert!(lock.contains("slapos.recipe.template"), "{lock}");
    // Unchanged: nothing to do, the outputs stay.
    let again = bo(&b, &args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(b.root.join("out/inline.out").is_file());
}

/// Buildout's links, minus those to zc.buildout's own venv (`zc`, `setuptools`,
/// `_distutils_hack`: zc.buildout adds its own installation to every working set,
/// and what it holds depends on how zc.buildout was installed).
#[test]
fn omelette_links_equal_buildout() {
    let b = case_buildout("omelette");
    let got = bo(&b, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let expected = std::fs::read_to_string(recorded("omelette/expected/links.txt")).unwrap();
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (link, target) = line.split_once(" -> ").unwrap();
        let (dist, inside) = target.split_once(':').unwrap();
        if dist == "{site-packages}" {
            continue;
        }
        let (name, version) = dist.split_once("==").unwrap();
        let path = b.root.join("parts").join(link);
        let points = std::fs::read_link(&path).unwrap_or_else(|e| panic!("{link}: {e}\n{}\n{}", got.stdout, got.stderr));
        let points = points.to_string_lossy();
        assert!(points.ends_with(inside), "{link} -> {points}");
        assert!(
            normalized(&points).contains(&format!("{}_{}", normalized(name), normalized(version))),
            "{link} -> {points} is not {dist}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4);

    // Removing a part runs the recipe's own uninstall entry point (omelette's
    // removes its links), then what it recorded; nothing is left behind.
    b.write(
        "buildout.cfg",
        &b.read("buildout.cfg")
            .replace("parts = omelette omelette-six", "parts = omelette-six"),
    );
    let got = bo(&b, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(
        got.stdout.contains("Uninstalling omelette.") && got.stdout.contains("Running uninstall recipe."),
        "{}",
        got.stdout
    );
    assert!(!b.root.join("parts/omelette").exists());
    assert!(b.root.join("parts/omelette-six/six.py").symlink_metadata().is_ok());
}

/// The mr-developer case, its git repository made, and the grants mr.developer
/// needs: its sources directory, its state file, git, and the develop builds.
fn mr_developer_buildout() -> TestBuildout {
    let b = case_buildout("mr-developer");
    let config = b.read("buildout.cfg").replace(
        "[versions]\n",
        "[versions]\nzc.buildout = 6.0.1\npip = 26.3\nwheel = 0.48.0\nplatformdirs = 4.14.9\n",
    );
    b.write("buildout.cfg", &config);
    let made = Command::new("sh")
        .arg(recorded("mr-developer/make-repo.sh"))
        .arg(b.root.join("repos/gitpkg"))
        .status()
        .unwrap();
    assert!(made.success());
    b
}

const MR_DEVELOPER_GRANTS: &[&str] = &[
    "--grant",
    "mr.developer:write=src",
    "--grant",
    "mr.developer:write=.mr.developer.cfg",
    "--grant",
    "mr.developer:program=git",
    "--grant",
    "buildout:build=fspkg",
    "--grant",
    "buildout:build=gitpkg",
];

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `extensions = mr.developer` runs mr.developer itself, unmodified, in the
/// runner: the fs source is found, the git source is cloned by a granted,
/// confined git, both become develop eggs, its `_mr.developer` part writes
/// `bin/develop`, and it says what Buildout's run said.
#[test]
fn mr_developer_checks_out_its_sources_as_buildout() {
    let b = mr_developer_buildout();
    let mut args = vec!["build"];
    args.extend(MR_DEVELOPER_GRANTS);
    let got = bo(&b, &args);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    // Its lines and the develop lines, as Buildout printed them.
    let expected = std::fs::read_to_string(recorded("mr-developer/output.txt")).unwrap();
    for line in expected
        .lines()
        .filter(|l| l.starts_with("mr.developer: ") || l.starts_with("Develop: "))
    {
        assert!(got.stdout.contains(line), "missing {line:?} in\n{}", got.stdout);
    }
    assert!(!got.stdout.contains("unused option"), "{}", got.stdout);
    // The clone, as Buildout's (src.txt).
    let clone = b.root.join("src/gitpkg");
    assert!(clone.join("gitpkg/__init__.py").is_file());
    assert_eq!(git(&clone, &["log", "--format=%s"]).trim(), "initial gitpkg");
    assert_eq!(git(&clone, &["branch"]).trim(), "* master");
    assert!(git(&clone, &["remote", "-v"]).contains(&format!("file://{}/repos/gitpkg (fetch)", b.root.display())));
    // Its state file, as Buildout's but for the command line it remembers.
    let state = b.read(".mr.developer.cfg");
    let recorded_state = std::fs::read_to_string(recorded("mr-developer/expected/mr.developer.cfg")).unwrap();
    let develop = |s: &str| s.split("\n\n").next().unwrap_or_default().to_string();
    assert_eq!(develop(&state), develop(&recorded_state), "{state}");
    // Both sources are develop eggs, and its part made bin/develop.
    for name in ["fspkg", "gitpkg"] {
        let link = b.read(&format!("develop-eggs/{name}.egg-link"));
        assert!(link.starts_with(&format!("{}/src/{name}", b.root.display())), "{link}");
    }
    let script = b.read("bin/develop");
    assert!(script.contains("import mr.developer.develop"), "{script}");
    assert!(script.contains("sys.exit(mr.developer.develop.develop())"), "{script}");
    assert!(b.read(".installed.cfg").contains("parts = _mr.developer"));
    assert!(b.read("bo.lock").contains("mr.developer:extension"), "{}", b.read("bo.lock"));

    // Again: the clone is kept, as Buildout's second run says.
    let again = bo(&b, &args);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("mr.developer: Skipped checkout of existing package 'gitpkg'."),
        "{}",
        again.stdout
    );
}

/// An extension gets only what was granted to its name: without git, without
/// its state file, mr.developer stops the build, and the message says what to grant.
#[test]
fn mr_developer_without_its_grants_stops_with_what_to_grant() {
    let b = mr_developer_buildout();
    let got = bo(
        &b,
        &[
            "build",
            "--grant",
            "mr.developer:write=src",
            "--grant",
            "mr.developer:write=.mr.developer.cfg",
        ],
    );
    assert_ne!(got.code, 0, "{}", got.stdout);
    let all = format!("{}{}", got.stdout, got.stderr);
    assert!(all.contains("Cannot find executable git in PATH"), "{all}");
    assert!(!b.root.join("src/gitpkg").exists());

    let got = bo(
        &b,
        &["build", "--grant", "mr.developer:write=src", "--grant", "mr.developer:program=git"],
    );
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr.contains("--grant mr.developer:write=.mr.developer.cfg"),
        "{}",
        got.stderr
    );
    assert!(!b.root.join(".mr.developer.cfg").exists());
    assert!(!b.root.join(".installed.cfg").exists());
}

#[test]
fn testrunner_writes_a_test_script_that_runs_as_buildouts() {
    let b = case_buildout("testrunner");
    let got = bo(&b, &["build", "--grant", "buildout:build=demo"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let script = b.read("bin/test");
    assert!(script.contains("zope.testrunner.run(["), "{script}");
    assert!(
        script.contains(&format!("'--test-path', '{}/src/demo',", b.root.display())),
        "{script}"
    );
    let out = Command::new(b.root.join("bin/test")).current_dir(&b.root).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let timing = |s: &str| -> String {
        s.lines()
            .map(|l| {
                l.split(' ')
                    .map(|w| {
                        if w.chars().all(|c| c.is_ascii_digit() || c == '.') && w.contains('.') {
                            "N.NNN"
                        } else {
                            w
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let expected = std::fs::read_to_string(recorded("testrunner/expected/test-output.txt")).unwrap();
    let expected = expected.replace("\n[exit status 0]", "");
    assert_eq!(
        timing(&text).trim_end(),
        expected.trim_end(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}

/// A classic recipe's own dependency that has no pure-Python file is named.
#[test]
fn unknown_recipes_are_all_reported_with_what_to_do() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nindex = {}\nparts = a b\n\n[a]\nrecipe = no.such.recipe\n\n[b]\nrecipe = another.missing:thing\n",
            classic_index()
        ),
    );
    let got = bo(&b, &["plan"]);
    assert_ne!(got.code, 0);
    for name in ["no.such.recipe", "another.missing"] {
        assert!(got.stderr.contains(name), "{name}: {}", got.stderr);
    }
    for hint in ["BO_RECIPE_PATH", "oci://", "bo recipe new"] {
        assert!(got.stderr.contains(hint), "{hint}: {}", got.stderr);
    }
}
