//! Hostile classic recipes and extensions (plain Python on a local index), run by
//! `bo build` in the classic-recipe runner: each is contained like a WASM recipe,
//! and what an extension changes in the configuration is checked by the trust
//! boundary as the configuration's own.

mod support;

use std::path::Path;

use support::TestBuildout;
use support::classic_index::classic_index;

fn bo(b: &TestBuildout, args: &[&str]) -> support::Outcome {
    let mut all = vec!["--grant", "buildout:host=127.0.0.1"];
    all.extend(args);
    b.bo(&all)
}

/// A hostile classic recipe (plain Python, from a find-links directory) tries to
/// read a secret outside the buildout, write outside, open a socket and run a
/// program: each is refused, as for a component.
#[test]
fn hostile_classic_recipe_is_contained() {
    let b = TestBuildout::new();
    let (_dir, canary) = support::canary();
    let outside = canary.parent().unwrap().join("written");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let code = r#"
import os, socket, subprocess

class Recipe:
    def __init__(self, buildout, name, options):
        self.options = options
        options['location'] = os.path.join(buildout['buildout']['parts-directory'], name)

    def install(self):
        results = []
        def attempt(label, action):
            try:
                action()
                results.append(label + ': ALLOWED')
            except BaseException as e:
                results.append(label + ': denied (%s)' % type(e).__name__)
        attempt('secret', lambda: open(self.options['secret']).read())
        attempt('outside', lambda: open(self.options['outside'], 'w').write('pwned'))
        attempt('socket', lambda: socket.create_connection(('127.0.0.1', int(self.options['port'])), timeout=2))
        attempt('program', lambda: subprocess.check_call(['sh', '-c', 'echo pwned > ' + self.options['outside']]))
        attempt('program-secret', lambda: subprocess.check_call(['sh', '-c', 'cat ' + self.options['secret'] + ' > ' + self.options['location'] + '/stolen']))
        location = self.options['location']
        os.makedirs(location, exist_ok=True)
        with open(os.path.join(location, 'results.txt'), 'w') as f:
            f.write('\n'.join(results) + '\n')
        return [location]

    update = install
"#;
    recipe_wheel(&b.root.join("dists"), "hostile-recipe", "1.0", &code);
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nindex = {}\nfind-links = ${{buildout:directory}}/dists\nparts = evil\n\n[evil]\nrecipe = hostile-recipe\nsecret = {}\noutside = {}\nport = {port}\n",
            classic_index(),
            canary.display(),
            outside.display()
        ),
    );
    // Running a program no one granted fails the part, naming the grant.
    let got = bo(&b, &["build"]);
    assert_ne!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stderr.contains("`--grant evil:program=sh`"), "{}", got.stderr);
    // Granted, the program runs confined: it cannot write outside either.
    let got = bo(&b, &["build", "--grant", "evil:program=sh"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let results = b.read("parts/evil/results.txt");
    for label in ["secret", "outside", "socket"] {
        assert!(results.contains(&format!("{label}: denied")), "{label}: {results}");
    }
    assert!(!outside.exists());
    assert!(
        !b.read("parts/evil/stolen").contains("untouched"),
        "a granted program read the secret"
    );
    assert!(listener.accept().is_err(), "the recipe reached the socket");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
}

/// A wheel of the classic recipe `project` in `dir`: a module (the project's
/// name with underscores) holding `code`, whose class `Recipe` is its default
/// `zc.buildout` entry point.
fn recipe_wheel(dir: &Path, project: &str, version: &str, code: &str) {
    let module = project.replace('-', "_");
    support::write_wheel(
        &dir.join(format!("{module}-{version}-py3-none-any.whl")),
        project,
        version,
        &[
            (&format!("{module}/__init__.py"), code),
            (
                &format!("{module}-{version}.dist-info/entry_points.txt"),
                &format!("[zc.buildout]\ndefault = {module}:Recipe\n"),
            ),
        ],
    );
}

/// A classic recipe whose install logs `message` (a Python literal) and creates nothing.
fn logging_recipe(message: &str) -> String {
    format!(
        "import logging\n\nclass Recipe:\n    def __init__(self, buildout, name, options):\n        self.name = name\n\n    def install(self):\n        logging.getLogger(self.name).info({message})\n        return []\n\n    update = install\n"
    )
}

/// From an attack: one buildout's index must not stand in for another's through
/// the shared download cache (a hostile index's `victimpkg 99.0`, cached by a
/// build of its own, is never offered to a buildout that did not name it).
#[test]
fn the_download_cache_does_not_carry_one_buildouts_files_to_another() {
    let hostile = TestBuildout::new();
    let tree = hostile.root.join("index");
    let code = logging_recipe("'POISONED'");
    recipe_wheel(&tree.join("victimpkg-cache-attack"), "victimpkg-cache-attack", "99.0", &code);
    let index = support::serve_index(&tree);
    hostile.write(
        "buildout.cfg",
        &format!("[buildout]\nindex = {index}\nparts = p\n\n[p]\nrecipe = victimpkg-cache-attack\n"),
    );
    let got = bo(&hostile, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stdout.contains("POISONED"), "{}", got.stdout);

    let victim = TestBuildout::new();
    let code = logging_recipe("'benign'");
    recipe_wheel(&victim.root.join("dists"), "victimpkg-cache-attack", "1.0", &code);
    victim.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nindex = {}\nfind-links = ${{buildout:directory}}/dists\nparts = p\n\n[p]\nrecipe = victimpkg-cache-attack\n",
            classic_index()
        ),
    );
    let got = bo(&victim, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stdout.contains("benign") && !got.stdout.contains("POISONED"), "{}", got.stdout);
}

/// From an attack: a recipe's log text cannot pass for bo's own lines or send
/// escape sequences to the terminal.
#[test]
fn recipe_log_lines_are_prefixed_and_escaped() {
    let b = TestBuildout::new();
    let code = logging_recipe(r"'done\nInstalling other-part.\n\x1b[2J\x1b[32mBuild succeeded'");
    recipe_wheel(&b.root.join("dists"), "spoofing-recipe", "1.0", &code);
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nindex = {}\nfind-links = ${{buildout:directory}}/dists\nparts = p\n\n[p]\nrecipe = spoofing-recipe\n",
            classic_index()
        ),
    );
    let got = bo(&b, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(!got.stdout.contains('\x1b'), "{:?}", got.stdout);
    assert!(got.stdout.contains("p: Installing other-part."), "{}", got.stdout);
    assert!(!got.stdout.lines().any(|l| l == "Installing other-part."), "{}", got.stdout);
}

/// A wheel of the extension `project` in `dir`: a module holding `code`, whose
/// function `ext` is its `zc.buildout.extension` entry point.
fn extension_wheel(dir: &Path, project: &str, code: &str) {
    let module = project.replace('-', "_");
    support::write_wheel(
        &dir.join(format!("{module}-1.0-py3-none-any.whl")),
        project,
        "1.0",
        &[
            (&format!("{module}/__init__.py"), code),
            (
                &format!("{module}-1.0.dist-info/entry_points.txt"),
                &format!("[zc.buildout.extension]\ndefault = {module}:ext\n"),
            ),
        ],
    );
}

/// What an extension sets is as untrusted as the configuration: bo's state file,
/// the buildout's directories and the index it names are checked by the trust
/// boundary as if the configuration had set them (found by an attack: they
/// were taken as the user's), and an extension may not take a section's name.
#[test]
fn what_an_extension_sets_is_checked_as_the_configurations() {
    let b = TestBuildout::new();
    let (_dir, canary) = support::canary();
    let code = r#"
def ext(buildout):
    b = buildout['buildout']
    mode = b['evil-mode']
    if mode == 'installed':
        b['installed'] = b['victim']
        b['parts'] = 'x'
        buildout._raw['x'] = {'recipe': 'tinyrecipe', 'content': 'hi'}
    elif mode == 'directory':
        b['bin-directory'] = b['outside']
    elif mode == 'index':
        b['index'] = 'http://127.0.0.2:9/simple/'
        b['parts'] = 'x'
        buildout._raw['x'] = {'recipe': 'zc.recipe.egg', 'eggs': 'six'}
"#;
    extension_wheel(&b.root.join("dists"), "evil-ext", code);
    let outside = canary.parent().unwrap().join("bin");
    let config = |mode: &str, index: bool| {
        format!(
            "[buildout]\n{}find-links = ${{buildout:directory}}/dists\nextensions = evil-ext\nparts =\nevil-mode = {mode}\nvictim = {}\noutside = {}\n",
            if index {
                format!("index = {}\n", classic_index())
            } else {
                String::new()
            },
            canary.display(),
            outside.display()
        )
    };
    for mode in ["installed", "directory"] {
        b.write("buildout.cfg", &config(mode, true));
        let got = bo(&b, &["build"]);
        assert_ne!(got.code, 0, "{mode}: {}\n{}", got.stdout, got.stderr);
        assert!(got.stderr.contains("outside"), "{mode}: {}", got.stderr);
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n", "{mode}");
        assert!(!outside.exists(), "{mode}");
    }
    // The user's own index (in ~/.buildout/default.cfg) does not make the one an
    // extension names trusted.
    b.write("home/.buildout/default.cfg", &format!("[buildout]\nindex = {}\n", classic_index()));
    b.write("buildout.cfg", &config("index", false));
    let got = b.bo(&["build"]);
    assert_ne!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stderr.contains("127.0.0.2"), "{}", got.stderr);
    std::fs::remove_file(b.root.join("home/.buildout/default.cfg")).unwrap();

    // An extension named like a section would get that section's grants.
    for name in ["buildout", "evil"] {
        b.write(
            "buildout.cfg",
            &format!("[buildout]\nextensions = {name}\nparts = evil\n\n[evil]\nrecipe = tinyrecipe\ncontent = x\n"),
        );
        let got = bo(&b, &["build"]);
        assert_ne!(got.code, 0, "{name}: {}", got.stdout);
        assert!(got.stderr.contains("its name is that of a section"), "{name}: {}", got.stderr);
    }
}

/// A grant bound to a classic recipe is bound to the distributions it runs, not
/// to its name: the configuration's own find-links can serve a hostile recipe
/// under the name the user granted (found by an attack). Bound to what bo
/// resolved, the grant applies.
#[test]
fn a_grant_bound_to_a_classic_recipe_does_not_follow_its_name() {
    let mut b = TestBuildout::new();
    let (_dir, canary) = support::canary();
    let data = canary.parent().unwrap().to_path_buf();
    let code = r#"
import os

class Recipe:
    def __init__(self, buildout, name, options):
        self.options = options

    def install(self):
        with open(os.path.join(self.options['target'], 'evil.sh'), 'w') as f:
            f.write('pwned')
        return []

    update = install
"#;
    recipe_wheel(&b.root.join("dists"), "okrec", "99.0", code);
    let grants_file = b.root.join("home/grants.toml");
    b.env.push(("BO_GRANTS_FILE".into(), grants_file.display().to_string()));
    let grant_for = |identity: &str| format!("grants = [\"app@{identity}:outside={}\"]\n", data.display());
    std::fs::write(&grants_file, grant_for("okrec")).unwrap();
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nindex = {}\nfind-links = ${{buildout:directory}}/dists\nparts = app\n\n[app]\nrecipe = okrec\ntarget = {}\n",
            classic_index(),
            data.display()
        ),
    );
    let got = bo(&b, &["build"]);
    assert_ne!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(
        got.stderr.contains("the grants you gave it for another recipe do not apply"),
        "{}",
        got.stderr
    );
    assert!(!data.join("evil.sh").exists(), "the name-bound grant applied");

    // Bound to the recipe bo resolved (as the note names it), it applies.
    let identity = got
        .stderr
        .split("now uses recipe ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the note names the recipe")
        .trim()
        .to_string();
    assert!(identity.starts_with("okrec#sha256:"), "{identity}");
    std::fs::write(&grants_file, grant_for(&identity)).unwrap();
    let got = bo(&b, &["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(data.join("evil.sh").exists());
}

/// An extension may not make a section named after an extension (it would run
/// with that extension's grants), nor one whose name the state file would read
/// back as another section's (`victim:x` is `[victim]` with a condition).
#[test]
fn an_extension_cannot_take_another_extensions_name_or_forge_a_section() {
    let b = TestBuildout::new();
    extension_wheel(&b.root.join("dists"), "good-ext", "def ext(buildout):\n    pass\n");
    let code = r#"
def ext(buildout):
    b = buildout['buildout']
    mode = b['evil-mode']
    if mode == 'steal':
        b['parts'] = 'good-ext'
        buildout._raw['good-ext'] = {'recipe': 'tinyrecipe', 'content': 'stolen'}
    elif mode == 'colon':
        b['parts'] = 'victim victim:x'
        buildout._raw['victim'] = {'recipe': 'tinyrecipe', 'content': 'v'}
        buildout._raw['victim:x'] = {'recipe': 'tinyrecipe', 'content': 'forged'}
"#;
    extension_wheel(&b.root.join("dists"), "evil-ext", code);
    for (mode, expected) in [
        ("steal", "a section named after the extension good-ext"),
        ("colon", "the extension set an invalid option victim:x:"),
    ] {
        b.write(
            "buildout.cfg",
            &format!(
                "[buildout]\nindex = {}\nfind-links = ${{buildout:directory}}/dists\nextensions = good-ext evil-ext\nparts =\nevil-mode = {mode}\n",
                classic_index()
            ),
        );
        let got = bo(&b, &["build", "--grant", "good-ext:write=src"]);
        assert_ne!(got.code, 0, "{mode}: {}\n{}", got.stdout, got.stderr);
        assert!(got.stderr.contains(expected), "{mode}: {}", got.stderr);
        assert!(!b.root.join("parts/good-ext").exists(), "{mode}");
        assert!(!b.read(".installed.cfg").contains("victim"), "{mode}");
    }
}
