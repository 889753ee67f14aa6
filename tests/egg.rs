//! `zc.recipe.egg` end to end through `bo build`: the recipe component asks the host
//! to resolve and install distributions from a real index on 127.0.0.1, then to
//! write scripts; the scripts are run. Also `bo.lock` with `--locked` and `--frozen`.

mod support;

use std::process::Command;

use support::TestBuildout;

fn run(script: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(index: &str) -> String {
    format!(
        "[buildout]\nparts = old new lint\nindex = {index}\n\n[old]\nrecipe = zc.recipe.egg\neggs = six==1.16.0\ninterpreter = py-old\n\n[new]\nrecipe = zc.recipe.egg\neggs = python-dateutil\ninterpreter = py-new\ninitialization = import os\n    os.environ['BO_INIT'] = 'yes'\n\n[lint]\nrecipe = zc.recipe.egg:scripts\neggs = pyflakes\nscripts = pyflakes=check\n"
    )
}

#[test]
fn two_versions_side_by_side_and_console_scripts() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write("buildout.cfg", &config(support::json_index()));
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let version = "import six, os; print(six.__version__, os.environ.get('BO_INIT'))";
    assert_eq!(run(&b.root.join("bin/py-old"), &["-c", version]), "1.16.0 None");
    assert_eq!(run(&b.root.join("bin/py-new"), &["-c", version]), "1.17.0 yes");
    assert!(run(&b.root.join("bin/check"), &["--version"]).starts_with("3.2.0"));
    let script = b.read("bin/check");
    assert!(!script.contains("pkg_resources") && !script.contains("setuptools"), "{script}");

    // The lock names every distribution with its sha256; --locked accepts it.
    let lock = b.read("bo.lock");
    assert!(
        lock.contains("six-1.16.0-py2.py3-none-any.whl") && lock.contains("six-1.17.0-py2.py3-none-any.whl"),
        "{lock}"
    );
    let locked = b.bo(&["-U", "build", "--locked"]);
    assert_eq!(locked.code, 0, "{}", locked.stderr);

    // A changed requirement would change the lock: --locked refuses, naming the part.
    b.write("buildout.cfg", &config(support::json_index()).replace("six==1.16.0", "six==1.17.0"));
    let refused = b.bo(&["-U", "build", "--locked"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("part old: bo.lock would change"), "{}", refused.stderr);

    // --frozen installs from the lock, even with the store gone and no index.
    b.write("buildout.cfg", &config("http://127.0.0.1:9/simple/"));
    std::fs::remove_dir_all(b.root.join("eggs")).unwrap();
    std::fs::remove_file(b.root.join(".installed.cfg")).unwrap();
    let frozen = b.bo(&["-U", "build", "--frozen"]);
    assert_eq!(frozen.code, 0, "{}\n{}", frozen.stdout, frozen.stderr);
    assert_eq!(
        run(&b.root.join("bin/py-old"), &["-c", "import six; print(six.__version__)"]),
        "1.16.0"
    );
}

#[test]
fn resolution_errors_name_the_part() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app\nindex = {}\n[app]\nrecipe = zc.recipe.egg\neggs = no-such-dist\n",
            support::html_index()
        ),
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(
        got.stderr.contains("part app") && got.stderr.contains("Couldn't find a distribution for 'no-such-dist'"),
        "{}",
        got.stderr
    );
    assert!(!b.root.join(".installed.cfg").exists());
}

#[test]
fn picked_versions_are_shown_and_written() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app\nindex = {}\nshow-picked-versions = true\nupdate-versions-file = versions.cfg\n[app]\nrecipe = zc.recipe.egg\neggs = python-dateutil\n",
            support::json_index()
        ),
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stdout.contains("Versions had to be automatically picked."), "{}", got.stdout);
    let versions = b.read("versions.cfg");
    assert!(versions.starts_with("[versions]\npython-dateutil = 2.9.0.post0\n"), "{versions}");
    assert!(
        versions.contains("# Required by:\n# python-dateutil 2.9.0.post0\nsix = 1.17.0"),
        "{versions}"
    );
}
