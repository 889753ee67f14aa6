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
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
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
    let locked = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--locked"]);
    assert_eq!(locked.code, 0, "{}", locked.stderr);

    // A changed requirement would change the lock: --locked refuses, naming the part.
    b.write("buildout.cfg", &config(support::json_index()).replace("six==1.16.0", "six==1.17.0"));
    let refused = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--locked"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("part old: bo.lock would change"), "{}", refused.stderr);

    // --frozen installs from the lock, even with the store gone and no index.
    b.write("buildout.cfg", &config("http://127.0.0.1:9/simple/"));
    std::fs::remove_dir_all(b.root.join("eggs")).unwrap();
    std::fs::remove_file(b.root.join(".installed.cfg")).unwrap();
    let frozen = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--frozen"]);
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
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
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
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stdout.contains("Versions had to be automatically picked."), "{}", got.stdout);
    let versions = b.read("versions.cfg");
    assert!(versions.starts_with("[versions]\npython-dateutil = 2.9.0.post0\n"), "{versions}");
    assert!(
        versions.contains("# Required by:\n# python-dateutil 2.9.0.post0\nsix = 1.17.0"),
        "{versions}"
    );
}

/// A project with only a source distribution: building it needs the user's
/// `build` grant; with it, bo builds a wheel through the project's PEP 517 backend
/// (setuptools, installed from the index by bo itself), caches it, and the script
/// runs. A failing build shows the backend's own error.
#[test]
fn source_distributions_are_built_with_pep_517_under_a_grant() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    // Inside the buildout: a find-links directory outside it needs a grant.
    let sdists_dir = b.root.join("sdists");
    let make_sdist = |name: &str, setup_py: Option<&str>| {
        let src = sdists_dir.as_path().join("src").join(format!("{name}-1.0"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"1.0\"\n\n[project.scripts]\n{name} = \"{name}:main\"\n"
            ),
        )
        .unwrap();
        std::fs::write(src.join(format!("{name}.py")), "def main():\n    print('built from source')\n").unwrap();
        if let Some(setup) = setup_py {
            std::fs::write(src.join("setup.py"), setup).unwrap();
        }
        let status = Command::new("tar")
            .arg("czf")
            .arg(sdists_dir.as_path().join(format!("{name}-1.0.tar.gz")))
            .arg("-C")
            .arg(sdists_dir.as_path().join("src"))
            .arg(format!("{name}-1.0"))
            .status()
            .unwrap();
        assert!(status.success());
    };
    make_sdist("greet", None);
    make_sdist("broken", Some("raise SystemExit('this project cannot be built here')\n"));
    let config = |eggs: &str| {
        format!(
            "[buildout]\nparts = app\nindex = {}\nfind-links = {}\n\n[app]\nrecipe = zc.recipe.egg\neggs = {eggs}\n",
            support::json_index(),
            sdists_dir.as_path().display()
        )
    };
    b.write("buildout.cfg", &config("greet"));
    let denied = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    assert!(
        denied.stderr.contains("greet 1.0 has no wheel that fits this Python, only a source distribution; building it runs the project's build code on this machine: grant it with `--grant app:build=greet`"),
        "{}",
        denied.stderr
    );

    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--grant", "app:build=greet"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(
        got.stdout
            .contains("Building a wheel from greet-1.0.tar.gz (setuptools.build_meta)"),
        "{}",
        got.stdout
    );
    assert_eq!(run(&b.root.join("bin/greet"), &[]), "built from source");
    assert!(b.read("bo.lock").contains("greet-1.0-py3-none-any.whl"), "{}", b.read("bo.lock"));

    // Built once: a fresh buildout with the same cache does not build again.
    std::fs::remove_dir_all(b.root.join("eggs")).unwrap();
    std::fs::remove_file(b.root.join(".installed.cfg")).unwrap();
    let again = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--grant", "app:build=greet"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("Building a wheel"), "{}", again.stdout);
    assert_eq!(run(&b.root.join("bin/greet"), &[]), "built from source");

    b.write("buildout.cfg", &config("broken"));
    let failed = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--grant", "app:build=*"]);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.contains("building a wheel from broken-1.0.tar.gz failed"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("this project cannot be built here"), "{}", failed.stderr);
}

/// `[buildout] develop`: a project used from its source tree. Its metadata comes
/// from its PEP 517 backend (under the user's `build` grant); the resolver prefers
/// it; its script imports the source directly, so an edit shows without a rebuild.
#[test]
fn develop_projects_are_used_from_their_source_tree() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write(
        "mylib/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"mylib\"\nversion = \"0.3\"\ndependencies = [\"six\"]\n\n[project.scripts]\nmylib = \"mylib:main\"\n",
    );
    b.write(
        "mylib/src/mylib/__init__.py",
        "import six\ndef main():\n    print('first', six.__version__)\n",
    );
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\ndevelop = mylib\nparts = app\nindex = {}\n\n[versions]\nsix = 1.16.0\n\n[app]\nrecipe = zc.recipe.egg\neggs = mylib\n",
            support::json_index()
        ),
    );
    let denied = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    assert!(
        denied.stderr.contains(
            "developing mylib ({root}/mylib) runs its build backend on this machine: grant it with `--grant buildout:build=mylib`"
        ),
        "{}",
        denied.stderr
    );

    let got = b.bo(&[
        "-U",
        "--grant",
        "buildout:host=127.0.0.1",
        "build",
        "--grant",
        "buildout:build=mylib",
    ]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(run(&b.root.join("bin/mylib"), &[]), "first 1.16.0");
    assert_eq!(b.read("develop-eggs/mylib.egg-link"), format!("{}/mylib/src\n.", b.root.display()));
    assert!(b.root.join("mylib/src/mylib-0.3.dist-info/METADATA").is_file());
    let state = b.read(".installed.cfg");
    assert!(
        state.contains(&format!(
            "installed_develop_eggs = {}/develop-eggs/mylib.egg-link\n",
            b.root.display()
        )),
        "{state}"
    );
    let lock = b.read("bo.lock");
    assert!(
        lock.contains("six-1.16.0") && !lock.contains("name = \"mylib\""),
        "develop projects are not locked: {lock}"
    );

    // Editable: a change to the source shows at once.
    b.write(
        "mylib/src/mylib/__init__.py",
        "import six\ndef main():\n    print('edited', six.__version__)\n",
    );
    assert_eq!(run(&b.root.join("bin/mylib"), &[]), "edited 1.16.0");
    // Unchanged build files: the metadata is not prepared again.
    let metadata = b.root.join("mylib/src/mylib-0.3.dist-info/METADATA");
    let before = std::fs::metadata(&metadata).unwrap().modified().unwrap();
    assert_eq!(
        b.bo(&[
            "-U",
            "--grant",
            "buildout:host=127.0.0.1",
            "build",
            "--grant",
            "buildout:build=mylib"
        ])
        .code,
        0
    );
    assert_eq!(std::fs::metadata(&metadata).unwrap().modified().unwrap(), before);

    // No longer developed: its egg-link goes.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    assert_eq!(b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]).code, 0);
    assert!(!b.root.join("develop-eggs/mylib.egg-link").exists());
    assert!(
        !b.root.join(".installed.cfg").exists(),
        "no parts and no develop eggs: no state file"
    );
}

/// `bo init` as `buildout init`: a minimal configuration, built; with
/// requirements, a `py` interpreter part that can import them.
#[test]
fn init_writes_a_buildout_and_builds_it() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.env.push(("PIP_INDEX_URL".into(), support::json_index().to_string()));
    let got = b.bo(&["-U", "init", "six"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(
        b.read("buildout.cfg"),
        "[buildout]\nparts = py\n\n[py]\nrecipe = zc.recipe.egg\ninterpreter = py\neggs =\n    six\n"
    );
    assert!(run(&b.root.join("bin/py"), &["-c", "import six; print(six.__name__)"]).contains("six"));
    let again = b.bo(&["-U", "init"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("buildout.cfg already exists"), "{}", again.stderr);
}

/// The lines Buildout prints while it installs distributions and scripts, and its
/// unused-option warning, as zc.buildout 6.0.1 printed them for the same
/// configuration (`tests/fixtures/buildout-recorded/egg-progress`). Buildout's
/// own lines about fetching zc.recipe.egg (bundled in bo) come before the parts.
#[test]
fn progress_lines_and_unused_options_are_buildouts() {
    let case = support::repo_root().join("tests/fixtures/buildout-recorded/egg-progress");
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    let config = std::fs::read_to_string(case.join("buildout.cfg")).unwrap();
    b.write("buildout.cfg", &config.replace("{index}", support::json_index()));
    let shown = |text: &str| -> Vec<String> {
        let words = [
            "Installing ",
            "Updating ",
            "Getting distribution",
            "Got ",
            "Generated ",
            "Section `",
            "This may be",
        ];
        let lines: Vec<String> = text
            .lines()
            .filter(|l| words.iter().any(|w| l.starts_with(w)))
            .map(String::from)
            .collect();
        let first_part = lines
            .iter()
            .position(|l| l.starts_with("Installing ") || l.starts_with("Updating "))
            .unwrap_or(0);
        lines[first_part..].to_vec()
    };
    // One part at a time, as Buildout runs them.
    for (file, label) in [("output.txt", "first run"), ("output-rerun.txt", "rerun")] {
        let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "-j", "1"]);
        assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
        let want = std::fs::read_to_string(case.join(file)).unwrap();
        assert_eq!(shown(&got.stdout), shown(&want), "{label}:\n{}", got.stdout);
    }
}

/// An entry point the recipe does not have is an error, as in Buildout (where it
/// is an ImportError), naming those it has.
#[test]
fn an_unknown_entry_point_is_an_error() {
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = b\n\n[b]\nrecipe = zc.recipe.egg:bogus\neggs = six\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr
            .contains("recipe zc.recipe.egg has no entry point \"bogus\" (it has: default, scripts, eggs, script, custom, develop)"),
        "{}",
        got.stderr
    );
}

/// `-N` (and `newest = false`): installed distributions that satisfy the
/// requirements are used without asking the index, so a build works with the
/// index down, as Buildout's does; without `-N` bo asks it (and says which URL
/// failed). Offline mode says that it is what stopped an install.
#[test]
fn not_newest_builds_with_the_index_down_and_offline_says_so() {
    let tools = support::python_tools();
    let port = support::free_port();
    let mut server = Command::new(tools.venv.join("bin/simple-repository-server"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(&tools.index_tree)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let index = format!("http://127.0.0.1:{port}/simple/");
    for _ in 0..200 {
        if Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", &index])
            .status()
            .is_ok_and(|s| s.success())
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = py\nindex = {index}\n\n[versions]\npython-dateutil = 2.9.0.post0\nsix = 1.17.0\n\n[py]\nrecipe = zc.recipe.egg\neggs = python-dateutil\ninterpreter = py\n"),
    );
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-U", "--grant", "buildout:host=127.0.0.1"];
        all.extend(args);
        all
    }
    let got = b.bo(&with(&["build"]));
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    server.kill().unwrap();
    server.wait().unwrap();

    let got = b.bo(&with(&["-N", "build"]));
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stdout.contains("Updating py."), "{}", got.stdout);
    assert_eq!(
        run(&b.root.join("bin/py"), &["-c", "import dateutil, six; print(six.__version__)"]),
        "1.17.0"
    );

    let got = b.bo(&with(&["build"]));
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains(&format!("{index}python-dateutil/")), "{}", got.stderr);

    // Offline, with a distribution neither installed nor in the download cache.
    let fresh = TestBuildout::with_recipes();
    fresh.write(
        "buildout.cfg",
        &b.read("buildout.cfg").replace("eggs = python-dateutil", "eggs = attrs"),
    );
    let got = fresh.bo(&["-U", "-o", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("can't install one in offline mode"), "{}", got.stderr);
}

/// An index without PEP 658 metadata files (pypiserver) makes bo fetch whole
/// wheels to read their metadata: a slow step, which says which file it fetches
/// (a spinner on a terminal; a line with `-v`).
#[test]
fn fetching_a_wheel_for_its_metadata_says_which() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app\nindex = {}\n[app]\nrecipe = zc.recipe.egg\neggs = six\n",
            support::html_index()
        ),
    );
    let got = b.bo(&["-U", "-v", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(
        got.stdout.contains("Fetching six-1.17.0-py2.py3-none-any.whl for its metadata"),
        "{}",
        got.stdout
    );
}

/// A version conflict shows what Buildout shows: the `[versions]` constraint and
/// every requirement naming the project, with who required it, then the error
/// (`tests/fixtures/buildout-recorded/version-conflict*`).
#[test]
fn version_conflicts_name_the_requirer_as_buildout() {
    for case in ["version-conflict", "version-conflict-dependency"] {
        let dir = support::repo_root().join("tests/fixtures/buildout-recorded").join(case);
        let mut b = TestBuildout::with_recipes();
        b.env.push(("PIP_FIND_LINKS".into(), String::new()));
        let config = std::fs::read_to_string(dir.join("buildout.cfg")).unwrap();
        b.write("buildout.cfg", &config.replace("{index}", support::json_index()));
        let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
        assert_ne!(got.code, 0, "{}", got.stdout);
        let want = std::fs::read_to_string(dir.join("output.txt")).unwrap();
        let block = |text: &str| -> Vec<String> {
            let mut lines = text.lines().skip_while(|l| !l.starts_with("Version and requirements information"));
            let head = lines.next().map(String::from);
            head.into_iter()
                .chain(lines.take_while(|l| l.starts_with("  ")).map(String::from))
                .collect()
        };
        assert!(!block(&want).is_empty(), "{want}");
        assert_eq!(block(&got.stdout), block(&want), "{case}:\n{}", got.stdout);
        let error = want.lines().find_map(|l| l.strip_prefix("Error: ")).unwrap();
        assert!(got.stderr.contains(error), "{case}: {error:?} not in\n{}", got.stderr);
    }
}

/// The README's tour (`examples/python-app`) builds, against the local index in
/// place of PyPI: an interpreter with the pinned versions, the template's file,
/// the confined command's output.
#[test]
fn the_python_app_example_builds() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    let config = std::fs::read_to_string(support::repo_root().join("examples/python-app/buildout.cfg")).unwrap();
    let config = config.replacen("[buildout]\n", &format!("[buildout]\nindex = {}\n", support::json_index()), 1);
    b.write("buildout.cfg", &config);
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--grant", "check:program=sh"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(!got.stdout.contains("unused option"), "{}", got.stdout);
    assert_eq!(b.read("parts/check/versions.txt").trim(), "dateutil 2.9.0.post0 six 1.17.0");
    let ini = b.read("etc/app.ini");
    assert!(
        ini.contains("port = 8080") && ini.contains(&format!("python = {}/bin/py", b.root.display())),
        "{ini}"
    );
    assert!(run(&b.root.join("bin/pyflakes"), &["--version"]).starts_with("3.2.0"));
}

/// zc.recipe.egg:custom builds a distribution from its sdist with build_ext
/// options (an include directory, a macro) under the part's build grant, into
/// develop-eggs; a later part then uses that build. zc.recipe.egg:develop makes
/// a project of the buildout a develop egg.
#[test]
fn custom_and_develop_builds() {
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    let project = b.root.join("sdist/cext-1.0");
    std::fs::create_dir_all(&project).unwrap();
    b.write(
        "sdist/cext-1.0/setup.py",
        "from setuptools import setup, Extension\nsetup(name='cext', version='1.0', ext_modules=[Extension('cext', ['cext.c'])])\n",
    );
    b.write("sdist/cext-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: cext\nVersion: 1.0\n");
    b.write(
        "sdist/cext-1.0/cext.c",
        "#include <Python.h>\n#include \"greeting.h\"\n#ifndef BO_FLAVOUR\n#error \"BO_FLAVOUR is not defined\"\n#endif\nstatic PyObject *hello(PyObject *s, PyObject *a) { return PyUnicode_FromString(GREETING); }\nstatic PyMethodDef m[] = {{\"hello\", hello, METH_NOARGS, \"\"}, {0}};\nstatic struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"cext\", 0, -1, m};\nPyMODINIT_FUNC PyInit_cext(void) { return PyModule_Create(&d); }\n",
    );
    b.write("headers/greeting.h", "#define GREETING \"built with the custom options\"\n");
    std::fs::create_dir_all(b.root.join("links")).unwrap();
    let tar = Command::new("tar")
        .args(["czf", "links/cext-1.0.tar.gz", "-C", "sdist", "cext-1.0"])
        .current_dir(&b.root)
        .status()
        .unwrap();
    assert!(tar.success());
    b.write(
        "src/plain/setup.py",
        "from setuptools import setup\nsetup(name='plain', version='0.1', py_modules=['plain'])\n",
    );
    b.write("src/plain/plain.py", "VALUE = 'developed'\n");
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = cext plain py\nfind-links = ${{buildout:directory}}/links\nindex = {}\n\n[cext]\nrecipe = zc.recipe.egg:custom\ninclude-dirs = headers\ndefine = BO_FLAVOUR\n\n[plain]\nrecipe = zc.recipe.egg:develop\nsetup = src/plain\n\n[py]\nrecipe = zc.recipe.egg\neggs = cext\n    plain\ninterpreter = py\n",
            support::json_index()
        ),
    );
    let grants = [
        "-U",
        "--grant",
        "buildout:host=127.0.0.1",
        "build",
        "--grant",
        "cext:build=cext",
        "--grant",
        "plain:build=plain",
    ];
    let got = b.bo(&grants);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let out = run(
        &b.root.join("bin/py"),
        &[
            "-c",
            "import cext, plain; print(cext.hello()); print(cext.__file__); print(plain.VALUE)",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "built with the custom options");
    assert!(lines[1].starts_with(&format!("{}/develop-eggs/", b.root.display())), "{out}");
    assert_eq!(lines[2], "developed");
    let recorded = b.read(".installed.cfg");
    assert!(
        recorded.contains(&format!("include-dirs = {}/headers", b.root.display())),
        "{recorded}"
    );

    // Unchanged: nothing is built again.
    let again = b.bo(&grants);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(!again.stdout.contains("Building a wheel"), "{}", again.stdout);

    // Without the grant, the build is refused with the grant to add.
    std::fs::remove_file(b.root.join(".installed.cfg")).unwrap();
    let refused = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build", "--grant", "plain:build=plain"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(refused.stderr.contains("--grant cext:build=cext"), "{}", refused.stderr);
}
