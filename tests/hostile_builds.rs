//! What bo does with its own hands for a hostile configuration when it builds or
//! reads Python things: source builds (their `setup.py` is the configuration's
//! code) run confined, the configuration cannot replace what bo gives a build, one
//! buildout's build environment cannot stand in for another's through the shared
//! built-wheel cache, `develop` globs do not follow links out of the tree, a file
//! bo wrote under `~/.buildout` is not the user's, and relative settings are the
//! buildout's, not the current directory's. Each test is a real `bo build`
//! against the local index, checking a concrete effect.

mod support;

use std::path::Path;
use std::process::Command;

use support::{TestBuildout, canary, counting_server};

/// `dir/NAME-1.0.tar.gz` holding `files` under `NAME-1.0/`.
fn sdist(dir: &Path, name: &str, files: &[(&str, &str)]) {
    let src = dir.join("src").join(format!("{name}-1.0"));
    for (file, text) in files {
        let path = src.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(src.join("PKG-INFO"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")).unwrap();
    let status = Command::new("tar")
        .arg("czf")
        .arg(dir.join(format!("{name}-1.0.tar.gz")))
        .arg("-C")
        .arg(dir.join("src"))
        .arg(format!("{name}-1.0"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(dir.join("src")).unwrap();
}

fn python_says(interpreter: &Path, code: &str) -> String {
    let out = Command::new(interpreter).args(["-c", code]).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// A granted source build runs the project's `setup.py`, but confined: it cannot
/// read a secret outside, write outside, or reach the network; and the
/// configuration's `environment` cannot replace the variables bo gives the build
/// (`BO_BUILD_PATH` would put the buildout's own `setuptools` first).
#[test]
fn source_builds_run_confined() {
    let (_keep, secret) = canary();
    let outside = secret.parent().unwrap().to_path_buf();
    let (server, reached) = counting_server();
    let port = server.rsplit(':').next().unwrap();
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    let setup = format!(
        r#"import os, socket
from setuptools import setup
result = {{}}
try:
    result['read'] = open({secret:?}).read().strip()
except Exception:
    result['read'] = 'denied'
try:
    open({planted:?}, 'w').write('planted')
    result['write'] = 'done'
except Exception:
    result['write'] = 'denied'
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()
    result['net'] = 'connected'
except Exception:
    result['net'] = 'denied'
open('probe.py', 'w').write('RESULT = %r\n' % (result,))
setup(name='probe', version='1.0', py_modules=['probe'])
"#,
        secret = secret.display().to_string(),
        planted = outside.join("planted").display().to_string(),
    );
    sdist(&b.root.join("links"), "probe", &[("setup.py", &setup)]);
    let config = format!(
        "[buildout]\nparts = app\nfind-links = ${{buildout:directory}}/links\nindex = {}\n\n[app]\nrecipe = zc.recipe.egg\neggs = probe\ninterpreter = py\n",
        support::json_index()
    );

    // The environment may not set bo's own variables.
    b.write(
        "evil/setuptools/__init__.py",
        "raise SystemExit('the setuptools of the buildout ran')\n",
    );
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app\nfind-links = ${{buildout:directory}}/links\nindex = {}\n\n[app]\nrecipe = zc.recipe.egg:custom\negg = probe\nenvironment = env\n\n[env]\nBO_BUILD_PATH = ${{buildout:directory}}/evil\n",
            support::json_index()
        ),
    );
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "--grant", "app:build=probe", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("the environment may not set BO_BUILD_PATH"), "{}", got.stderr);

    b.write("buildout.cfg", &config);
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "--grant", "app:build=probe", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let result = python_says(&b.root.join("bin/py"), "import probe; print(sorted(probe.RESULT.items()))");
    assert_eq!(result, "[('net', 'denied'), ('read', 'denied'), ('write', 'denied')]");
    assert!(!outside.join("planted").exists());
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Buildout A's index offers a hostile `setuptools` that builds a backdoored
/// wheel from an honest sdist; buildout B builds the same sdist with the real
/// setuptools. Sharing bo's cache, B must not get A's wheel.
#[test]
fn a_build_environment_cannot_stand_in_for_another_buildouts() {
    let cache = tempfile::tempdir().unwrap();
    let honest = [
        (
            "setup.py",
            "from setuptools import setup\nsetup(name='honest', version='1.0', py_modules=['honest'])\n",
        ),
        ("honest.py", "VALUE = 'honest'\n"),
    ];
    let backend = r#"
import base64, hashlib, os, zipfile
class _Legacy:
    def get_requires_for_build_wheel(self, config=None):
        return []
    def build_wheel(self, wheel_directory, config=None, metadata_directory=None):
        name = 'honest-1.0-py3-none-any.whl'
        files = {
            'honest.py': b"VALUE = 'backdoored'\n",
            'honest-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\nName: honest\nVersion: 1.0\n',
            'honest-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
        }
        record = ''
        with zipfile.ZipFile(os.path.join(wheel_directory, name), 'w') as z:
            for n, data in files.items():
                z.writestr(n, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
                record += '%s,sha256=%s,%d\n' % (n, digest, len(data))
            z.writestr('honest-1.0.dist-info/RECORD', record + 'honest-1.0.dist-info/RECORD,,\n')
        return name
__legacy__ = _Legacy()
"#;
    // The same sdist, byte for byte, in both buildouts.
    sdist(cache.path(), "honest", &honest);
    let build = |hostile: bool| {
        let mut b = TestBuildout::with_recipes();
        b.env.push(("PIP_FIND_LINKS".into(), String::new()));
        b.env.push(("BO_CACHE_DIR".into(), cache.path().display().to_string()));
        std::fs::create_dir_all(b.root.join("links")).unwrap();
        std::fs::copy(cache.path().join("honest-1.0.tar.gz"), b.root.join("links/honest-1.0.tar.gz")).unwrap();
        if hostile {
            support::write_wheel(
                &b.root.join("links/setuptools-99.0-py3-none-any.whl"),
                "setuptools",
                "99.0",
                &[("setuptools/__init__.py", ""), ("setuptools/build_meta.py", backend)],
            );
        }
        b.write(
            "buildout.cfg",
            &format!(
                "[buildout]\nparts = app\nfind-links = ${{buildout:directory}}/links\nindex = {}\n\n[app]\nrecipe = zc.recipe.egg\neggs = honest\ninterpreter = py\n",
                support::json_index()
            ),
        );
        let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "--grant", "app:build=honest", "build"]);
        assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
        python_says(&b.root.join("bin/py"), "import honest; print(honest.VALUE)")
    };
    assert_eq!(build(true), "backdoored", "the hostile buildout gets what its own index built");
    assert_eq!(build(false), "honest");
}

/// `develop = src/*` matches a link the configuration planted to a directory
/// outside its tree: bo does not build (and write into) it.
#[test]
fn develop_globs_do_not_follow_links_out_of_the_tree() {
    let (_keep, canary) = canary();
    let outside = canary.parent().unwrap().to_path_buf();
    std::fs::write(
        outside.join("setup.py"),
        "from setuptools import setup\nsetup(name='myapp', version='0.1')\n",
    )
    .unwrap();
    let b = TestBuildout::with_recipes();
    std::fs::create_dir_all(b.root.join("src")).unwrap();
    std::os::unix::fs::symlink(&outside, b.root.join("src/myapp")).unwrap();
    b.write("buildout.cfg", "[buildout]\ndevelop = src/*\nparts =\n");
    let got = b.bo(&["-U", "--grant", "buildout:build=myapp", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("bo will not build"), "{}", got.stderr);
    assert!(got.stderr.contains("--grant buildout:outside="), "{}", got.stderr);
    let entries: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries.iter().any(|e| e.contains("info")),
        "bo built outside the tree: {entries:?}"
    );
}

/// A file under `~/.buildout` is the user's only if bo reached it from the user's
/// `default.cfg`: bo itself writes files a configuration chose there (an eggs
/// store in `~/.buildout/eggs`), so a configuration extending one is still the
/// configuration, and its `executable` needs a grant.
#[test]
fn a_file_under_the_users_buildout_directory_is_not_the_users_by_its_place() {
    let (_keep, canary) = canary();
    let b = TestBuildout::with_recipes();
    b.write("python", &format!("#!/bin/sh\necho ran > {}\nexit 1\n", canary.display()));
    std::fs::set_permissions(b.root.join("python"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.write("home/.buildout/default.cfg", "[buildout]\n");
    b.write(
        "home/.buildout/eggs/v5/payload-2.0-py3-none-any/payload/evil.cfg",
        &format!("[buildout]\nexecutable = {}/python\n", b.root.display()),
    );
    b.write(
        "buildout.cfg",
        "[buildout]\nextends = home/.buildout/eggs/v5/payload-2.0-py3-none-any/payload/evil.cfg\nparts = app\n[app]\nrecipe = zc.recipe.egg\neggs = six\ninterpreter = py\n",
    );
    let got = b.bo(&["build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("`--grant buildout:program={root}/python`"), "{}", got.stderr);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n", "the interpreter ran");
}

/// A relative `download-cache` hidden behind a substitution is the buildout's,
/// as the trust boundary checked it, wherever bo was started from; and a local
/// find-links directory outside the tree is not read for the configuration.
#[test]
fn relative_and_local_settings_are_the_buildouts() {
    let b = TestBuildout::with_recipes();
    b.write(
        "b/buildout.cfg",
        &format!(
            "[buildout]\nrel = relcache\ndownload-cache = ${{buildout:rel}}\nindex = {}\nparts = app\n[app]\nrecipe = zc.recipe.egg\neggs = six\n",
            support::json_index()
        ),
    );
    let got = b.bo(&["-U", "-c", "b/buildout.cfg", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(!b.root.join("relcache").exists(), "bo wrote in the current directory");
    assert!(b.root.join("b/relcache/dist").is_dir());

    let private = tempfile::tempdir().unwrap();
    support::write_wheel(
        &private.path().join("corpsecret-1.0-py3-none-any.whl"),
        "corpsecret",
        "1.0",
        &[("corpsecret.py", "X = 1\n")],
    );
    b.write(
        "c/buildout.cfg",
        &format!(
            "[buildout]\nfind-links = {}\nparts = app\n[app]\nrecipe = zc.recipe.egg\neggs = corpsecret\n",
            private.path().display()
        ),
    );
    let got = b.bo(&["-U", "-c", "c/buildout.cfg", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("bo will not read it for this configuration"), "{}", got.stderr);
    assert!(got.stderr.contains("--grant buildout:outside="), "{}", got.stderr);
    assert!(
        !support::walk(&b.root.join("c"))
            .iter()
            .any(|p| p.to_string_lossy().contains("corpsecret"))
    );
}

/// A custom build's `include-dirs` outside the buildout do not open them to the
/// build (found by an attack: `include-dirs = ~/.ssh` put a key into the wheel),
/// and a backend that names a file of yours elsewhere as the wheel it built does
/// not get it installed.
#[test]
fn a_build_cannot_take_files_from_outside_through_its_options_or_answers() {
    let (_keep, secret) = canary();
    let outside = secret.parent().unwrap().to_path_buf();
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    let setup = format!(
        "from setuptools import setup\ntry:\n    r = open({:?}).read().strip()\nexcept Exception:\n    r = 'denied'\nopen('peek.py', 'w').write('R = %r\\n' % r)\nsetup(name='peek', version='1.0', py_modules=['peek'])\n",
        secret.display().to_string()
    );
    sdist(&b.root.join("links"), "peek", &[("setup.py", &setup)]);
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = peek py\nfind-links = ${{buildout:directory}}/links\nindex = {}\n\n[peek]\nrecipe = zc.recipe.egg:custom\ninclude-dirs = {}\n\n[py]\nrecipe = zc.recipe.egg\neggs = peek\ninterpreter = py\n",
            support::json_index(),
            outside.display()
        ),
    );
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "--grant", "peek:build=peek", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(python_says(&b.root.join("bin/py"), "import peek; print(peek.R)"), "denied");

    let private = outside.join("corpsecret-1.0-py3-none-any.whl");
    support::write_wheel(&private, "corpsecret", "1.0", &[("corpsecret.py", "X = 1\n")]);
    let backend = format!(
        "def get_requires_for_build_wheel(config=None):\n    return []\ndef build_wheel(wheel_directory, config=None, metadata_directory=None):\n    return {:?}\n",
        private.display().to_string()
    );
    let c = TestBuildout::with_recipes();
    sdist(
        &c.root.join("links"),
        "absw",
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"evilbackend\"\nbackend-path = [\".\"]\n",
            ),
            ("evilbackend.py", &backend),
        ],
    );
    c.write(
        "buildout.cfg",
        "[buildout]\nparts = absw\nfind-links = ${buildout:directory}/links\n\n[absw]\nrecipe = zc.recipe.egg:custom\n",
    );
    let got = c.bo(&["-U", "--grant", "absw:build=absw", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("not a wheel it made in the output directory"), "{}", got.stderr);
    assert!(!support::walk(&c.root).iter().any(|p| p.to_string_lossy().contains("corpsecret")));
}
