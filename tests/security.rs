//! The trust boundary, attacked: each test is a hostile configuration (and, where
//! needed, a hostile recipe) run through the real `bo build`, and checks a concrete
//! effect: a canary outside the buildout untouched, a secret not read, no request
//! reaching a local server, a mode unchanged, bo's cache entry refused. One test
//! per class of `docs/security.md`; denial messages must name the grant to add.
//! Programs a part runs are attacked in `confinement.rs`.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::{TestBuildout, canary, counting_server};

#[test]
fn settings_that_make_bo_write_stay_inside_the_buildout() {
    let (_keep, canary) = canary();
    let outside = canary.parent().unwrap().display().to_string();
    let cases = [
        (
            "bin-directory = .git/hooks",
            "lies in the hidden directory .git",
            "--grant buildout:outside=",
        ),
        ("eggs-directory = bin/eggs", "which recipes write", "--grant buildout:outside="),
        (
            &format!("download-cache = {outside}") as &str,
            "lies outside the directory of",
            &format!("--grant buildout:outside={outside}") as &str,
        ),
        ("installed = parts/x/state.cfg", "which recipes write", "--grant buildout:outside="),
        (
            "develop-eggs-directory = .hg/x",
            "hidden directory .hg",
            "--grant buildout:outside=",
        ),
    ];
    for (setting, why, grant) in cases {
        let b = TestBuildout::with_recipes();
        std::fs::create_dir_all(b.root.join(".git/hooks")).unwrap();
        b.write(
            "buildout.cfg",
            &format!("[buildout]\nparts = a\n{setting}\n[a]\nrecipe = tinyrecipe\n"),
        );
        let got = b.bo(&["-U", "build"]);
        assert_eq!(got.code, 1, "{setting}: {}", got.stderr);
        assert!(got.stderr.contains(why) && got.stderr.contains(grant), "{setting}: {}", got.stderr);
        assert!(got.stderr.contains("(set in {root}/buildout.cfg:3)"), "{setting}: {}", got.stderr);
        assert_eq!(std::fs::read_dir(b.root.join(".git/hooks")).unwrap().count(), 0, "{setting}");
        assert!(!b.root.join("parts/a").exists(), "{setting}: nothing ran");
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
    assert_eq!(std::fs::read_dir(canary.parent().unwrap()).unwrap().count(), 1);

    // The user may put them elsewhere (command line), or grant it.
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", "[buildout]\nparts = a\n[a]\nrecipe = tinyrecipe\n");
    let got = b.bo(&["-U", &format!("buildout:download-cache={outside}"), "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
}

#[test]
fn the_state_file_is_never_written_through_a_link() {
    let (_keep, canary) = canary();
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", "[buildout]\nparts = a\n[a]\nrecipe = tinyrecipe\n");
    std::os::unix::fs::symlink(&canary, b.root.join(".installed.cfg")).unwrap();
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1, "{}", got.stderr);
    assert!(got.stderr.contains("it is a symbolic link"), "{}", got.stderr);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
}

#[test]
fn an_interpreter_named_by_the_configuration_is_not_run_without_a_grant() {
    let (_keep, canary) = canary();
    let b = TestBuildout::with_recipes();
    let evil = b.root.join("python");
    b.write("python", &format!("#!/bin/sh\necho ran > {}\nexit 1\n", canary.display()));
    std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = app\nexecutable = ${buildout:directory}/python\n[app]\nrecipe = zc.recipe.egg\neggs = six\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1, "{}", got.stderr);
    assert!(got.stderr.contains("`--grant buildout:program={root}/python`"), "{}", got.stderr);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n", "the interpreter ran");

    // Granted, it is the user's choice: bo runs it.
    let grant = format!("buildout:program={}", evil.display());
    let got = b.bo(&["-U", "--grant", &grant, "build"]);
    assert_eq!(got.code, 1);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "ran\n");
}

#[test]
fn extends_read_only_the_configurations_own_tree_and_granted_hosts() {
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().canonicalize().unwrap().join("credentials");
    std::fs::write(&secret, "[default]\ntoken = hunter2\n").unwrap();
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nextends = base.cfg\nparts =\n[leak]\nvalue = ${{default:token}}\n"),
    );
    b.write("base.cfg", &format!("[buildout]\nextends = {}\n", secret.display()));
    for command in [&["-U", "query", "--json"][..], &["-U", "annotate"], &["-U", "build"]] {
        let got = b.bo(command);
        assert_eq!(got.code, 1, "{command:?}: {}", got.stdout);
        assert!(!got.stdout.contains("hunter2") && !got.stderr.contains("hunter2"), "{command:?}");
        assert!(
            got.stderr.contains(&format!("{{root}}/base.cfg extends {}", secret.display()))
                && got
                    .stderr
                    .contains(&format!("--grant buildout:outside={}", secret.parent().unwrap().display())),
            "{command:?}: {}",
            got.stderr
        );
    }
    // Hidden directories of the tree itself are refused too.
    b.write("buildout.cfg", "[buildout]\nextends = .ssh/config.cfg\nparts =\n");
    b.write(".ssh/config.cfg", "[x]\nkey = hunter2\n");
    let got = b.bo(&["-U", "query", "--json"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("hidden directory .ssh"), "{}", got.stderr);

    // Remote extends: nothing is fetched without the host's grant, not even once.
    let (base, requests) = counting_server();
    b.write("buildout.cfg", &format!("[buildout]\nextends = {base}/x.cfg\nparts =\n"));
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("`--grant buildout:host=127.0.0.1`"), "{}", got.stderr);
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a request reached the server");
    let got = b.bo(&["-U", "--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(got.code, 1, "the server answers 404");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[test]
fn a_configurations_index_is_not_contacted_without_a_grant() {
    let (base, requests) = counting_server();
    let mut b = TestBuildout::with_recipes();
    b.env.push(("PIP_FIND_LINKS".into(), String::new()));
    b.env.push(("PIP_INDEX_URL".into(), String::new()));
    // The recipe could put the buildout's secrets into requirement names.
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = app\nindex = {base}/simple\n[app]\nrecipe = zc.recipe.egg\neggs = six\n"),
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("`--grant app:host=127.0.0.1`"), "{}", got.stderr);
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a request reached the configuration's index");
}

#[test]
fn recipe_outputs_never_reach_hidden_directories_or_bos_places() {
    for (output, why) in [
        ("${buildout:directory}/.git/hooks/post-checkout", "hidden directory .git"),
        ("${buildout:directory}/state.cfg", "the buildout directory itself"),
        ("${buildout:directory}/eggs/sitecustomize.py", "overlaps bo's eggs directory"),
        ("${buildout:parts-directory}/other/x", "another part's directory"),
    ] {
        let b = TestBuildout::with_recipes();
        std::fs::create_dir_all(b.root.join(".git/hooks")).unwrap();
        b.write(
            "buildout.cfg",
            &format!("[buildout]\nparts = t\n[t]\nrecipe = collective.recipe.template\ninline = #!/bin/sh\noutput = {output}\n"),
        );
        let got = b.bo(&["-U", "build"]);
        assert_eq!(got.code, 1, "{output}: {}", got.stdout);
        assert!(got.stderr.contains(why), "{output}: {}", got.stderr);
        assert!(!b.root.join(".git/hooks/post-checkout").exists() && !b.root.join("state.cfg").exists());
    }
}

#[test]
fn uninstall_removes_only_what_the_part_could_write() {
    let (_keep, canary) = canary();
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", "[buildout]\nparts = a\n[a]\nrecipe = tinyrecipe\n");
    assert_eq!(b.bo(&["-U", "build"]).code, 0);
    b.write("src/keep.txt", "mine\n");
    // A hostile checkout ships a state file that records more than the part made.
    let state = b.read(".installed.cfg").replace(
        "__buildout_installed__ = {root}/parts/a"
            .replace("{root}", &b.root.display().to_string())
            .as_str(),
        &format!(
            "__buildout_installed__ = {root}/parts/a\n\t{root}/src/keep.txt\n\t{}\n\t{root}/.git",
            canary.display(),
            root = b.root.display()
        ),
    );
    assert!(state.contains("keep.txt"), "{state}");
    b.write(".installed.cfg", &state);
    std::fs::create_dir_all(b.root.join(".git")).unwrap();
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/a").exists());
    assert_eq!(b.read("src/keep.txt"), "mine\n");
    assert!(b.root.join(".git").is_dir());
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
    assert!(got.stderr.contains("warning: not removing {root}/src/keep.txt"), "{}", got.stderr);
}

#[test]
fn a_precompiled_entry_bo_did_not_write_is_never_executed() {
    let cache = tempfile::tempdir().unwrap();
    let mut b = TestBuildout::with_recipes();
    b.env.push(("BO_CACHE_DIR".into(), cache.path().display().to_string()));
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a p\n[a]\nrecipe = tinyrecipe\n[p]\nrecipe = sandbox-probe\n",
    );
    let got = b.bo(&["-U", "build", "--grant", "p:program=true", "--grant", "p:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let digest = |name: &str| {
        let bytes = std::fs::read(support::guest_recipes().join(format!("{name}.wasm"))).unwrap();
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let entries: Vec<_> = support::walk(cache.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    let find = |d: &str| {
        entries
            .iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(d))
            .cloned()
            .unwrap()
    };
    let (tiny, probe) = (find(&digest("tinyrecipe")), find(&digest("sandbox-probe")));
    // Native code bo did not write for this component goes in its place (here the
    // other recipe's, valid for this engine: the worst case).
    let foreign = std::fs::read(&probe).unwrap();
    std::fs::remove_file(&tiny).unwrap();
    std::fs::write(&tiny, &foreign).unwrap();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a p\n[a]\nrecipe = tinyrecipe\ncontent = again\n[p]\nrecipe = sandbox-probe\n",
    );
    let got = b.bo(&["-U", "build", "--grant", "p:program=true", "--grant", "p:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(b.read("parts/a/content.txt"), "again", "the part ran tinyrecipe's own code");
    assert_ne!(std::fs::read(&tiny).unwrap(), foreign, "the foreign entry was replaced");
}

/// Parts running beside each other (`-j 2`) while something swaps a directory on
/// the way for a link to a directory outside, thousands of times: the host's file
/// services work through handles, so nothing lands outside and no mode changes.
#[test]
fn host_file_services_hold_against_a_swapped_link() {
    let (_keep, canary) = canary();
    let outside = canary.parent().unwrap().to_path_buf();
    let mode_before = std::fs::metadata(&outside).unwrap().permissions();
    let b = TestBuildout::with_recipes();
    let count = "2000";
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = one two\n[one]\nrecipe = sandbox-probe\nattack = copy-loop\npath = ${{buildout:bin-directory}}/race/x\ncount = {count}\n[two]\n<= one\n"
        ),
    );
    std::fs::create_dir_all(b.root.join("bin")).unwrap();
    let race = b.root.join("bin/race");
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (race, outside, stop) = (race.clone(), outside.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut flips = 0u64;
            while !stop.load(Ordering::SeqCst) && started.elapsed() < std::time::Duration::from_secs(120) {
                let _ = std::fs::remove_file(&race).or_else(|_| std::fs::remove_dir_all(&race));
                let _ = std::fs::create_dir(&race);
                std::thread::yield_now();
                let _ = std::fs::remove_dir_all(&race);
                let _ = std::os::unix::fs::symlink(&outside, &race);
                std::thread::yield_now();
                flips += 1;
            }
            flips
        })
    };
    let got = b.bo(&["-U", "build", "-j", "2", "--grant", "*:program=true", "--grant", "*:host=127.0.0.1"]);
    stop.store(true, Ordering::SeqCst);
    let flips = flipper.join().unwrap();
    assert!(flips > 100, "the race ran ({flips} flips)");
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stdout.contains(&format!("of {count}")), "{}", got.stdout);
    let landed: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(landed.len(), 1, "a file landed outside: {landed:?}");
    assert_eq!(std::fs::metadata(&outside).unwrap().permissions(), mode_before);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
}

#[test]
fn option_names_a_recipe_returns_cannot_forge_state_sections() {
    // The probe sets no options; a template's inline text with line breaks goes
    // into the state file as a value and must stay one.
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = t\n[t]\nrecipe = collective.recipe.template\noutput = ${buildout:directory}/etc/out.txt\ninline =\n    x\n    [forged]\n    recipe = evil\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let state = b.read(".installed.cfg");
    assert!(!state.lines().any(|l| l.trim_end() == "[forged]"), "{state}");
    let again = b.bo(&["-U", "build"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("forged"), "{}", again.stdout);
}

#[test]
fn substitution_does_not_hide_where_a_setting_points() {
    let (_keep, canary) = canary();
    let outside = canary.parent().unwrap().display().to_string();
    for setting in [
        format!("update-versions-file = ${{x:e}}{}", canary.display()),
        format!("download-cache = ${{x:e}}{outside}/dl"),
    ] {
        let b = TestBuildout::with_recipes();
        b.write(
            "buildout.cfg",
            &format!("[buildout]\nparts = a\n{setting}\n[x]\ne =\n[a]\nrecipe = tinyrecipe\n"),
        );
        let got = b.bo(&["-U", "build"]);
        assert_eq!(got.code, 1, "{setting}: {}", got.stderr);
        assert!(got.stderr.contains("lies outside the directory of"), "{setting}: {}", got.stderr);
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");
    assert!(!canary.parent().unwrap().join("dl").exists());
}

#[test]
fn a_linked_lock_file_is_neither_read_nor_shown() {
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().join("credentials");
    std::fs::write(&secret, "[default]\naws_access_key_id = AKIAHUNTER2\n").unwrap();
    let b = TestBuildout::with_recipes();
    b.write("buildout.cfg", "[buildout]\nparts = a\n[a]\nrecipe = tinyrecipe\n");
    std::os::unix::fs::symlink(&secret, b.root.join("bo.lock")).unwrap();
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("it is a symbolic link"), "{}", got.stderr);
    assert!(!got.stderr.contains("AKIAHUNTER2") && !got.stdout.contains("AKIAHUNTER2"));
}

#[test]
fn a_configurations_registry_is_not_contacted_without_a_grant() {
    let (base, connections) = counting_server();
    let registry = base.trim_start_matches("http://");
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = a\n[a]\nrecipe = oci://{registry}/evil/recipe:1\n"),
    );
    let got = b.bo(&["-U", "build", "--insecure"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("`--grant buildout:host=127.0.0.1`"), "{}", got.stderr);
    assert_eq!(connections.load(Ordering::SeqCst), 0, "bo connected to the registry");
}

#[test]
fn a_part_cannot_get_another_parts_directory_removed() {
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = a b\n[a]\nrecipe = tinyrecipe\n[b]\nrecipe = tinyrecipe\n",
    );
    assert_eq!(b.bo(&["-U", "build"]).code, 0);
    b.write("parts/b/data.txt", "b's own\n");
    let root = b.root.display().to_string();
    let state = b.read(".installed.cfg").replacen(
        &format!("__buildout_installed__ = {root}/parts/a\n"),
        &format!("__buildout_installed__ = {root}/parts/a\n\t{root}/parts\n"),
        1,
    );
    assert!(state.contains(&format!("\t{root}/parts\n")), "{state}");
    b.write(".installed.cfg", &state);
    b.write("buildout.cfg", "[buildout]\nparts = b\n[b]\nrecipe = tinyrecipe\n");
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/a").exists());
    assert_eq!(b.read("parts/b/data.txt"), "b's own\n");
}

/// A recipe that sleeps, or waits in a program it runs, is stopped at its
/// wall-clock limit (here 2 s; each would otherwise wait 60 s).
#[test]
fn time_limits_hold_while_a_recipe_waits() {
    for (section, grant) in [
        ("[p]\nrecipe = sandbox-probe\nattack = sleep\nms = 60000\n", None),
        ("[p]\nrecipe = plone.recipe.command\ncommand = sleep 60\n", Some("p:program=sh")),
    ] {
        let b = TestBuildout::with_recipes();
        b.write("buildout.cfg", &format!("[buildout]\nparts = p\n{section}"));
        let mut args = vec![
            "-U",
            "build",
            "--recipe-timeout",
            "2",
            "--grant",
            "p:host=127.0.0.1",
            "--grant",
            "p:program=true",
        ];
        if let Some(grant) = grant {
            args.extend(["--grant", grant]);
        }
        let started = std::time::Instant::now();
        let got = b.bo(&args);
        let took = started.elapsed();
        assert_eq!(got.code, 1, "{section}: {}", got.stderr);
        assert!(took < std::time::Duration::from_secs(30), "{section}: took {took:?}");
        assert!(
            got.stderr.contains("ran longer than its limit of 2 s")
                || got.stderr.contains("exited with status -1")
                || got.stderr.contains("failed"),
            "{section}: {}",
            got.stderr
        );
    }
}

/// A wheel with `name`'s file name whose module says it is the attacker's.
fn evil_wheel(dir: &Path, filename: &str, module: &str) {
    let script = r#"
import sys, zipfile, hashlib, base64
path, module = sys.argv[1], sys.argv[2]
name, version = path.rsplit('/', 1)[1].split('-')[:2]
files = {
    module + '.py': b"EVIL = True\n__version__ = '" + version.encode() + b"'\n",
    f'{name}-{version}.dist-info/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'.encode(),
    f'{name}-{version}.dist-info/WHEEL': b'Wheel-Version: 1.0\nGenerator: evil\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n',
}
record = ''
for n, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    record += f'{n},sha256={digest},{len(data)}\n'
record += f'{name}-{version}.dist-info/RECORD,,\n'
with zipfile.ZipFile(path, 'w') as z:
    for n, data in files.items():
        z.writestr(n, data)
    z.writestr(f'{name}-{version}.dist-info/RECORD', record)
"#;
    let status = std::process::Command::new("python3")
        .args(["-c", script, &dir.join(filename).display().to_string(), module])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Two buildouts share an eggs directory (set in the user's default.cfg, as many
/// Buildout users do). A hostile one installs its own wheel under a real wheel's
/// file name; the other, installing the real one from its index, must not get it.
#[test]
fn a_shared_eggs_directory_cannot_be_poisoned_by_another_buildout() {
    let shared = tempfile::tempdir().unwrap();
    let defaults = format!("[buildout]\neggs-directory = {}\n", shared.path().display());
    let mut attacker = TestBuildout::with_recipes();
    attacker.env.push(("PIP_FIND_LINKS".into(), String::new()));
    attacker.env.push(("PIP_INDEX_URL".into(), String::new()));
    attacker.write("home/.buildout/default.cfg", &defaults);
    std::fs::create_dir_all(attacker.root.join("wheels")).unwrap();
    evil_wheel(&attacker.root.join("wheels"), "six-1.16.0-py2.py3-none-any.whl", "six");
    attacker.write(
        "buildout.cfg",
        "[buildout]\nparts = app\nindex = ${buildout:directory}/wheels\n[app]\nrecipe = zc.recipe.egg\neggs = six==1.16.0\ninterpreter = py\n",
    );
    let got = attacker.bo(&["build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let probe = "import six; print(getattr(six, 'EVIL', False))";
    let evil = std::process::Command::new(attacker.root.join("bin/py"))
        .args(["-c", probe])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&evil.stdout).trim(),
        "True",
        "the attacker's wheel is in the shared store"
    );

    let mut victim = TestBuildout::with_recipes();
    victim.env.push(("PIP_FIND_LINKS".into(), String::new()));
    victim.write("home/.buildout/default.cfg", &defaults);
    victim.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app\nindex = {}\n[app]\nrecipe = zc.recipe.egg\neggs = six==1.16.0\ninterpreter = py\n",
            support::json_index()
        ),
    );
    let got = victim.bo(&["--grant", "buildout:host=127.0.0.1", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let out = std::process::Command::new(victim.root.join("bin/py"))
        .args(["-c", probe])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "False",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = victim.read("bo.lock");
    let evil_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(attacker.root.join("wheels/six-1.16.0-py2.py3-none-any.whl")).unwrap(),
        ))
    };
    assert!(!lock.contains(&evil_sha), "the victim's lock records the attacker's wheel");
}

/// An archive that unpacks to more than bo allows (a few hundred KiB of xz that
/// would be gigabytes) is refused, without holding it in memory.
#[test]
fn archive_bombs_are_refused() {
    let mut b = TestBuildout::with_recipes();
    // 64 MiB of zeros, compressed to a few dozen KiB, against a 32 MiB limit (the
    // default is 8 GiB; the user's environment may set another).
    b.env.push(("BO_MAX_UNPACKED".into(), (32u64 << 20).to_string()));
    let script = format!(
        "cd {root} && head -c 67108864 /dev/zero > zeros && tar -cf - zeros | gzip -1 > bomb.tar.gz && rm zeros",
        root = b.root.display()
    );
    let made = std::process::Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(made.success());
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = dl\n[dl]\nrecipe = hexagonit.recipe.download\nurl = file://${buildout:directory}/bomb.tar.gz\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(got.stderr.contains("unpacks to more than 32 MiB"), "{}", got.stderr);
    assert!(!b.root.join("parts/dl/zeros").exists());
}

/// A file named on the command line (`buildout:extends=dev.cfg`) is the user's in
/// its location, but what it extends is asked for like the `-c` file's.
#[test]
fn command_line_extends_do_not_open_the_policy() {
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().canonicalize().unwrap().join("credentials");
    std::fs::write(&secret, "[default]\ntoken = hunter2\n").unwrap();
    let b = TestBuildout::new();
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    b.write("dev.cfg", &format!("[buildout]\nextends = {}\n", secret.display()));
    let got = b.bo(&["-U", "buildout:extends=dev.cfg", "query", "--json"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(!got.stdout.contains("hunter2"));
    assert!(got.stderr.contains("--grant buildout:outside="), "{}", got.stderr);
}
