//! What bo does with its own hands around `develop` projects and local indexes
//! for a hostile configuration (found by an attack on bo's file work): the
//! metadata of a develop project is written only inside the project, whatever
//! links its checkout holds or its backend answers, and is copied without
//! following links; a find-links directory or local index in the tree, and a
//! remote index page, never lead bo to read a file of yours outside. Each test is
//! a real `bo build` with a real (hostile) PEP 517 backend or real wheels.

mod support;

use std::path::Path;

use support::{TestBuildout, canary};

const PYPROJECT: &str =
    "[project]\nname = \"proj\"\nversion = \"1.0\"\n[build-system]\nrequires = []\nbuild-backend = \"be\"\nbackend-path = [\".\"]\n";

/// A buildout developing `proj`, whose in-tree backend `be.py` defines
/// `prepare_metadata_for_build_wheel` as `body` (with `os` imported).
fn develop_buildout(body: &str) -> TestBuildout {
    let b = TestBuildout::new();
    b.write("buildout.cfg", "[buildout]\ndevelop = proj\nparts =\n");
    b.write("proj/pyproject.toml", PYPROJECT);
    b.write(
        "proj/be.py",
        &format!("import os\ndef get_requires_for_build_wheel(config=None):\n    return []\ndef prepare_metadata_for_build_wheel(d, config=None):\n{body}\n"),
    );
    b
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = support::walk(dir).iter().map(|p| p.display().to_string()).collect();
    names.sort();
    names
}

/// A project whose `src` links out of it (`src -> ~`) is refused before bo writes
/// there; a backend naming a directory of yours as its metadata, or leaving a link
/// to a file of yours in it, gets nothing copied into the tree; a `src` link
/// within the project works as before.
#[test]
fn develop_metadata_stays_inside_the_project() {
    let (keep, secret) = canary();
    let outside = keep.path().canonicalize().unwrap();
    let before = entries(&outside);
    let grant = ["--grant", "buildout:build=proj", "build"];

    // src -> outside: the backend writes a `.ssh` "metadata" directory.
    let b = develop_buildout(
        "    os.makedirs(os.path.join(d, 'x-1.0.dist-info'))\n    open(os.path.join(d, 'x-1.0.dist-info', 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: proj\\nVersion: 1.0\\n')\n    return 'x-1.0.dist-info'",
    );
    std::os::unix::fs::symlink(&outside, b.root.join("proj/src")).unwrap();
    let got = b.bo(&grant);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr.contains("bo uses only a source directory inside the project"),
        "{}",
        got.stderr
    );
    assert_eq!(entries(&outside), before, "bo wrote outside the project");

    // The backend names your directory as the metadata it made.
    let b = develop_buildout(&format!("    return {:?}", outside.display().to_string()));
    let got = b.bo(&grant);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("not a .dist-info directory it made"), "{}", got.stderr);
    assert!(
        !support::walk(&b.root).iter().any(|p| p.ends_with("canary")),
        "bo copied your directory"
    );

    // A link in the metadata to your file.
    let b = develop_buildout(&format!(
        "    di = os.path.join(d, 'proj-1.0.dist-info'); os.makedirs(di)\n    open(os.path.join(di, 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: proj\\nVersion: 1.0\\n')\n    os.symlink({:?}, os.path.join(di, 'STOLEN'))\n    return 'proj-1.0.dist-info'",
        secret.display().to_string()
    ));
    let got = b.bo(&grant);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(got.stderr.contains("bo copies no links"), "{}", got.stderr);
    assert!(!b.root.join("proj/proj-1.0.dist-info").exists(), "half-copied metadata left behind");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "untouched\n");

    // A `src` link within the project is the project's code.
    let b = develop_buildout(
        "    di = os.path.join(d, 'proj-1.0.dist-info'); os.makedirs(di)\n    open(os.path.join(di, 'METADATA'), 'w').write('Metadata-Version: 2.1\\nName: proj\\nVersion: 1.0\\n')\n    return 'proj-1.0.dist-info'",
    );
    std::fs::create_dir_all(b.root.join("proj/code")).unwrap();
    std::os::unix::fs::symlink("code", b.root.join("proj/src")).unwrap();
    let got = b.bo(&grant);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(b.root.join("proj/code/proj-1.0.dist-info/METADATA").is_file());
    assert_eq!(
        b.read("develop-eggs/proj.egg-link"),
        "{root}/proj/code\n.".replace("{root}", &b.root.display().to_string())
    );
}

/// A wheel or project directory in a find-links directory or local index of the
/// tree that links to your private files is not used (bo says so), nor is a
/// `file:` link on a remote index page; a link within the directory still works.
#[test]
fn local_indexes_do_not_lead_out_through_links() {
    let private = tempfile::tempdir().unwrap();
    let wheel = "corpsecret-1.0-py3-none-any.whl";
    support::write_wheel(&private.path().join(wheel), "corpsecret", "1.0", &[("corpsecret.py", "X = 1\n")]);
    let egg = "[x]\nrecipe = zc.recipe.egg\neggs = corpsecret\n";
    let installed = |b: &TestBuildout| support::walk(&b.root).iter().any(|p| p.to_string_lossy().contains("corpsecret.py"));

    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = x\nfind-links = ${{buildout:directory}}/links\n{egg}"),
    );
    std::fs::create_dir_all(b.root.join("links")).unwrap();
    std::os::unix::fs::symlink(private.path().join(wheel), b.root.join("links").join(wheel)).unwrap();
    let got = b.bo(&["-U", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr
            .contains("Not using {root}/links/corpsecret-1.0-py3-none-any.whl: it links to"),
        "{}",
        got.stderr
    );
    assert!(!installed(&b));

    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = x\nindex = ${{buildout:directory}}/idx/simple\n{egg}"),
    );
    std::fs::create_dir_all(b.root.join("idx/simple")).unwrap();
    std::os::unix::fs::symlink(private.path(), b.root.join("idx/simple/corpsecret")).unwrap();
    let got = b.bo(&["-U", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr.contains("Not using {root}/idx/simple/corpsecret: it links to"),
        "{}",
        got.stderr
    );
    assert!(!installed(&b));

    let page = format!(
        "<html><body><a href=\"file://{}\">{wheel}</a></body></html>",
        private.path().join(wheel).display()
    );
    let (base, _up) = support::serve([("simple/corpsecret/".to_string(), page.into_bytes())].into_iter().collect());
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", &format!("[buildout]\nparts = x\nindex = {base}/simple\n{egg}"));
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_ne!(got.code, 0, "{}", got.stdout);
    assert!(
        got.stderr.contains("Couldn't find a distribution for 'corpsecret'"),
        "{}",
        got.stderr
    );
    assert!(!installed(&b));

    // Your wheelhouse may hold links within it.
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = x\nfind-links = ${{buildout:directory}}/links\n{egg}"),
    );
    std::fs::create_dir_all(b.root.join("links/store")).unwrap();
    std::fs::copy(private.path().join(wheel), b.root.join("links/store").join(wheel)).unwrap();
    std::os::unix::fs::symlink(Path::new("store").join(wheel), b.root.join("links").join(wheel)).unwrap();
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(installed(&b));
}
