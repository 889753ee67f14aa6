//! The classic recipes bundled in bo, run by `bo build` on real configs:
//! `plone.recipe.command` (a shell command on install and update) and
//! `zc.recipe.cmmi` (a real configure/make/make install of a small C project
//! served over HTTP on 127.0.0.1). Each also runs without its grants and must fail
//! closed, naming the grant to add.

mod support;

use std::collections::HashMap;
use std::process::Command;

use support::TestBuildout;

#[test]
fn command_runs_on_install_and_update_and_location_is_removed() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n\n[cmd]\nrecipe = plone.recipe.command\ncommand = mkdir -p ${buildout:parts-directory}/cmd && echo made > ${buildout:parts-directory}/cmd/made.txt\nupdate-command = echo updated >> ${buildout:parts-directory}/cmd/made.txt\nlocation = ${buildout:parts-directory}/cmd/made.txt\n",
    );
    let denied = b.bo(&["build"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    assert!(
        denied
            .stderr
            .contains("part cmd (recipe plone.recipe.command) was denied program \"sh\": grant it with `--grant cmd:program=sh`"),
        "{}",
        denied.stderr
    );
    assert!(!b.root.join("parts/cmd/made.txt").exists());

    let got = b.bo(&["build", "--grant", "cmd:program=sh"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(
        got.stdout
            .contains("cmd: Running 'mkdir -p {root}/parts/cmd && echo made > {root}/parts/cmd/made.txt'"),
        "{}",
        got.stdout
    );
    assert_eq!(b.read("parts/cmd/made.txt"), "made\n");
    let got = b.bo(&["build", "--grant", "cmd:program=sh"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(b.read("parts/cmd/made.txt"), "made\nupdated\n");

    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/cmd").exists(), "{}", got.stderr);

    // The program runs confined: the buildout directory itself is not its to write.
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n\n[cmd]\nrecipe = plone.recipe.command\ncommand = echo made > ${buildout:directory}/made.txt\n",
    );
    let got = b.bo(&["build", "--grant", "cmd:program=sh"]);
    assert!(!b.root.join("made.txt").exists(), "{}", got.stderr);
}

#[test]
fn command_stop_on_error() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = lenient strict\n\n[lenient]\nrecipe = plone.recipe.command\ncommand = exit 3\n\n[strict]\nrecipe = plone.recipe.command\ncommand = exit 4\nstop-on-error = yes\n",
    );
    let got = b.bo(&["build", "-j1", "--grant", "*:program=sh"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(
        got.stdout.contains("lenient: warning: the command exited with status 3"),
        "{}",
        got.stdout
    );
    assert!(
        got.stderr
            .contains("part strict (recipe plone.recipe.command) failed: System error: the command of part strict exited with status 4"),
        "{}",
        got.stderr
    );
    // The part that worked stays installed and recorded.
    assert!(b.read(".installed.cfg").contains("[lenient]"));
}

/// A small autotools-style project: a `configure` that writes the Makefile, a C
/// program, and `make install` into the prefix.
fn hello_tarball(dir: &std::path::Path) -> Vec<u8> {
    let src = dir.join("hello-1.0");
    std::fs::create_dir_all(&src).unwrap();
    let configure = r#"#!/bin/sh
prefix=/usr/local
greeting=hello
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
    --with-greeting=*) greeting="${arg#--with-greeting=}" ;;
  esac
done
sed -e "s|@prefix@|$prefix|" -e "s|@greeting@|$greeting|" Makefile.in > Makefile
echo "configured for $prefix"
"#;
    std::fs::write(src.join("configure"), configure).unwrap();
    Command::new("chmod").args(["+x"]).arg(src.join("configure")).status().unwrap();
    std::fs::write(
        src.join("Makefile.in"),
        "prefix = @prefix@\nall: hello\nhello: hello.c\n\t$(CC) -DGREETING='\"@greeting@\"' -o hello hello.c\ninstall: hello\n\tmkdir -p $(prefix)/bin\n\tcp hello $(prefix)/bin/hello\n",
    )
    .unwrap();
    std::fs::write(
        src.join("hello.c"),
        "#include <stdio.h>\nint main(void) { printf(\"%s from cmmi\\n\", GREETING); return 0; }\n",
    )
    .unwrap();
    let tarball = dir.join("hello-1.0.tar.gz");
    let status = Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg("hello-1.0")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(tarball).unwrap()
}

#[test]
fn cmmi_builds_a_real_project_end_to_end() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let tarball = hello_tarball(scratch.path());
    let (base, _up) = support::serve(HashMap::from([("hello-1.0.tar.gz".to_string(), tarball)]));
    // A patch applied before configure, from the buildout directory.
    b.write(
        "patches/shout.patch",
        "--- hello.c\n+++ hello.c\n@@ -1 +1,2 @@\n #include <stdio.h>\n+/* patched by the buildout */\n",
    );
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = hello\n\n[hello]\nrecipe = zc.recipe.cmmi\nurl = {base}/hello-1.0.tar.gz\nextra_options = --with-greeting=bonjour\npatch = patches/shout.patch\nenvironment = CC=cc\n"
        ),
    );

    // Without grants: every program the recipe declares is asked for at once,
    // before anything runs.
    let denied = b.bo(&["build"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    for program in ["sh", "make", "patch"] {
        assert!(
            denied.stderr.contains(&format!(
                "part hello (recipe zc.recipe.cmmi) was denied program \"{program}\": grant it with `--grant hello:program={program}`"
            )),
            "{}",
            denied.stderr
        );
    }
    assert!(
        denied
            .stderr
            .contains("bo build --grant hello:program=sh --grant hello:program=make --grant hello:program=patch"),
        "{}",
        denied.stderr
    );
    assert!(!b.root.join("parts/hello").exists());
    // The programs granted but not the host (cmmi may download from anywhere, so
    // the host is asked for when used): the download is refused, nothing is left.
    let denied = b.bo(&["build", "--grant", "hello:program=*"]);
    assert_eq!(denied.code, 1);
    assert!(
        denied
            .stderr
            .contains("part hello (recipe zc.recipe.cmmi) was denied host \"127.0.0.1\": grant it with `--grant hello:host=127.0.0.1`"),
        "{}",
        denied.stderr
    );
    assert!(!b.root.join("parts/hello/bin").exists());

    let grants = ["--grant", "hello:host=127.0.0.1", "--grant", "hello:program=*"];
    let got = b.bo(&[&["build"][..], &grants[..]].concat());
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let out = Command::new(b.root.join("parts/hello/bin/hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bonjour from cmmi\n");
    assert!(!b.root.join("parts/hello/__compile__").exists(), "the compile directory is removed");
    assert!(
        b.read(".installed.cfg").contains(
            "__buildout_installed__ = {root}/parts/hello"
                .replace("{root}", &b.root.to_string_lossy())
                .as_str()
        )
    );

    // Unchanged: updated, not rebuilt (cmmi's update does nothing).
    let got = b.bo(&[&["build"][..], &grants[..]].concat());
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stdout.contains("Updating hello."), "{}", got.stdout);

    // Removed from parts: uninstalled, exactly its location.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/hello").exists());
    assert!(b.root.join("patches/shout.patch").exists());
}

#[test]
fn cmmi_failing_build_leaves_the_previous_install() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let tarball = hello_tarball(scratch.path());
    let (base, _up) = support::serve(HashMap::from([("hello-1.0.tar.gz".to_string(), tarball)]));
    let config =
        |extra: &str| format!("[buildout]\nparts = hello\n\n[hello]\nrecipe = zc.recipe.cmmi\nurl = {base}/hello-1.0.tar.gz\n{extra}");
    let grants = ["--grant", "hello:host=127.0.0.1", "--grant", "hello:program=*"];
    b.write("buildout.cfg", &config(""));
    let got = b.bo(&[&["build"][..], &grants[..]].concat());
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let installed = b.read(".installed.cfg");

    // A changed part whose make fails: the error shows make's output.
    b.write("buildout.cfg", &config("make-options = CC=no-such-compiler\n"));
    let got = b.bo(&[&["build"][..], &grants[..]].concat());
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(
        got.stderr
            .contains("part hello (recipe zc.recipe.cmmi) failed: make CC=no-such-compiler failed with status 2"),
        "{}",
        got.stderr
    );
    assert!(got.stderr.contains("no-such-compiler"), "{}", got.stderr);
    // Buildout's rule: the changed part was uninstalled before the new install, so
    // it is gone from disk and from the state file; the two agree.
    let after = b.read(".installed.cfg");
    assert_eq!(after.lines().last(), Some("parts = "), "{after}");
    assert!(!b.root.join("parts/hello/bin/hello").exists());
    assert_ne!(installed, after);
}

/// `hexagonit.recipe.download`, written in JavaScript (componentize-js).
#[test]
fn download_recipe_in_javascript() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let tarball = hello_tarball(scratch.path());
    let data = b"some data\n".to_vec();
    let (base, _up) = support::serve(HashMap::from([
        ("hello-1.0.tar.gz".to_string(), tarball),
        ("files/data.txt".to_string(), data),
    ]));
    // md5 of "some data\n".
    let md5 = "5febbef14389ebcfc3e501fa1091adcb";
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = sources file\n\n[sources]\nrecipe = hexagonit.recipe.download\nurl = {base}/hello-1.0.tar.gz\nstrip-top-level-dir = true\n\n[file]\nrecipe = hexagonit.recipe.download\nurl = {base}/files/data.txt\ndownload-only = true\ndestination = ${{buildout:directory}}/var/data\nmode = 600\nmd5sum = {md5}\n"
        ),
    );
    let denied = b.bo(&["build", "-j1"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    assert!(
        denied.stderr.contains(
            "part sources (recipe hexagonit.recipe.download) was denied host \"127.0.0.1\": grant it with `--grant sources:host=127.0.0.1`"
        ),
        "{}",
        denied.stderr
    );
    assert!(!b.root.join("parts/sources").exists());

    let got = b.bo(&["build", "-j1", "--grant", "*:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(b.root.join("parts/sources/configure").is_file() && b.root.join("parts/sources/hello.c").is_file());
    assert_eq!(b.read("var/data/data.txt"), "some data\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(b.root.join("var/data/data.txt")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let state = b.read(".installed.cfg").replace(&*b.root.to_string_lossy(), "{root}");
    assert!(state.contains("__buildout_installed__ = {root}/parts/sources\n"), "{state}");
    assert!(state.contains("__buildout_installed__ = {root}/var/data\n"), "{state}");

    // A wrong digest fails the part and names the file.
    b.write(
        "buildout.cfg",
        &b.read("buildout.cfg").replace(md5, "00000000000000000000000000000000"),
    );
    let got = b.bo(&["build", "-j1", "--grant", "*:host=127.0.0.1"]);
    assert_eq!(got.code, 1);
    assert!(
        got.stderr.contains(&format!("md5 mismatch for {base}/files/data.txt")),
        "{}",
        got.stderr
    );

    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("parts/sources").exists() && !b.root.join("var/data").exists());
}

/// `ignore-existing`: without it an existing entry stops the part; with it the
/// entry is replaced but not recorded, so uninstalling leaves it.
#[test]
fn download_recipe_existing_entries() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let (base, _up) = support::serve(HashMap::from([("hello-1.0.tar.gz".to_string(), hello_tarball(scratch.path()))]));
    b.write("src/configure", "mine\n");
    let config = |extra: &str| {
        format!(
            "[buildout]\nparts = sources\n\n[sources]\nrecipe = hexagonit.recipe.download\nurl = {base}/hello-1.0.tar.gz\nstrip-top-level-dir = true\ndestination = ${{buildout:directory}}/src\n{extra}"
        )
    };
    b.write("buildout.cfg", &config(""));
    let got = b.bo(&["build", "--grant", "sources:host=127.0.0.1"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(got.stderr.contains("{root}/src/configure already exists"), "{}", got.stderr);
    assert_eq!(b.read("src/configure"), "mine\n");
    assert!(!b.root.join("src/hello.c").exists());

    b.write("buildout.cfg", &config("ignore-existing = true\n"));
    let got = b.bo(&["build", "--grant", "sources:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(b.read("src/configure").contains("--prefix="));
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    assert_eq!(b.bo(&["build"]).code, 0);
    assert!(b.root.join("src/configure").exists() && !b.root.join("src/hello.c").exists());
}

/// `z3c.recipe.mkdir`, written in C (clang + wasi-libc, componentized with the
/// WASI adapter).
#[test]
fn mkdir_recipe_in_c() {
    use std::os::unix::fs::PermissionsExt;
    let b = TestBuildout::new();
    b.write("var/existing/keep.txt", "kept\n");
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = dirs kept\n\n[dirs]\nrecipe = z3c.recipe.mkdir\npaths = var/log\n    ${buildout:directory}/var/run/app\n    var/existing\nmode = 0750\nremove-on-update = yes\n\n[kept]\nrecipe = z3c.recipe.mkdir\npaths = data/blobs\n",
    );
    let got = b.bo(&["build", "-j1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    for dir in ["var/log", "var/run", "var/run/app", "var/existing"] {
        let mode = std::fs::metadata(b.root.join(dir)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750, "{dir}");
    }
    assert!(got.stdout.contains("dirs: created path: {root}/var/run/app"), "{}", got.stdout);
    assert!(
        got.stdout.contains("dirs: set permissions for {root}/var/existing"),
        "{}",
        got.stdout
    );
    assert!(b.root.join("data/blobs").is_dir());
    let state = b.read(".installed.cfg").replace(&*b.root.to_string_lossy(), "{root}");
    // The original's init rewrites the options: absolute, sorted paths and the flags.
    assert!(
        state.contains("paths = {root}/var/existing\n\t{root}/var/log\n\t{root}/var/run/app\n"),
        "{state}"
    );
    assert!(
        state.contains("remove-on-update = True\n") && state.contains("mode = 0o750\n"),
        "{state}"
    );

    // Uninstall: `remove-on-update` directories go, the existing one and those of
    // the part without the flag stay.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("var/log").exists() && !b.root.join("var/run").exists());
    assert_eq!(b.read("var/existing/keep.txt"), "kept\n");
    assert!(b.root.join("data/blobs").is_dir());
}

/// Two paths under one new directory: it is made, and said, once, as z3c.recipe.mkdir
/// does (tests/fixtures/buildout-recorded/mkdir-shared-parent).
#[test]
fn mkdir_logs_a_shared_parent_once_as_buildout() {
    let case = support::repo_root().join("tests/fixtures/buildout-recorded/mkdir-shared-parent");
    let b = TestBuildout::new();
    let config = std::fs::read_to_string(case.join("buildout.cfg")).unwrap();
    b.write("buildout.cfg", &config.replace("index = {index}\n", ""));
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let want = std::fs::read_to_string(case.join("output.txt")).unwrap();
    let lines = |text: &str| -> Vec<String> { text.lines().filter(|l| l.starts_with("d: ")).map(String::from).collect() };
    assert_eq!(lines(&got.stdout), lines(&want), "{}", got.stdout);
}

#[test]
fn mkdir_recipe_refusals() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = dirs\n\n[dirs]\nrecipe = z3c.recipe.mkdir\npaths = a/b\ncreate-intermediate = no\n",
    );
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 1, "{}", got.stdout);
    assert!(
        got.stderr.contains(
            "part dirs (recipe z3c.recipe.mkdir) failed: Cannot create: {root}/a/b\n       Parent does not exist or not a directory."
        ),
        "{}",
        got.stderr
    );
    assert!(!b.root.join("a").exists(), "what bo made for the failed part is gone");

    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("srv/app");
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = dirs\n\n[dirs]\nrecipe = z3c.recipe.mkdir\npaths = {}\n",
            target.display()
        ),
    );
    let got = b.bo(&["build"]);
    assert_eq!(got.code, 1);
    let grant = format!("--grant dirs:outside={}", target.display());
    assert!(got.stderr.contains(&grant), "{}", got.stderr);
    assert!(!target.exists());
    let got = b.bo(&["build", "--grant", &format!("dirs:outside={}", target.display())]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(target.is_dir());
}

/// `zc.recipe.deployment` writes outside the buildout only under an explicit grant.
#[test]
fn deployment_directories_configuration_and_crontab() {
    let b = TestBuildout::new();
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path().display().to_string();
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = app app-conf app-cron\n\n[app]\nrecipe = zc.recipe.deployment\nprefix = {p}\nuser = www\n\n[app-conf]\nrecipe = zc.recipe.deployment:configuration\ndeployment = app\ntext = port = 8080\n\n[app-cron]\nrecipe = zc.recipe.deployment:crontab\ndeployment = app\ntimes = 30 2 * * *\ncommand = ${{buildout:bin-directory}}/pack\n"
        ),
    );
    let denied = b.bo(&["build", "-j1"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    assert!(
        denied.stderr.contains(&format!(
            "part app (recipe zc.recipe.deployment) was denied outside \"{p}/etc/app\": grant it with `--grant app:outside={p}/etc/app`"
        )),
        "{}",
        denied.stderr
    );
    assert!(!prefix.path().join("etc").exists(), "nothing was created outside");

    let grant = format!("*:outside={p}");
    let got = b.bo(&["build", "-j1", "--grant", &grant]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    use std::os::unix::fs::PermissionsExt;
    for (dir, mode) in [
        ("etc/app", 0o755),
        ("var/log/app", 0o755),
        ("var/run/app", 0o750),
        ("etc/cron.d", 0o755),
    ] {
        let meta = std::fs::metadata(prefix.path().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{dir}");
    }
    assert!(
        got.stdout
            .contains(&format!("app: Creating '{p}/var/run/app',\n    mode 750, user 'www', group 'www'")),
        "{}",
        got.stdout
    );
    assert_eq!(
        std::fs::read_to_string(prefix.path().join("etc/app/app-conf")).unwrap(),
        "port = 8080"
    );
    assert_eq!(
        std::fs::read_to_string(prefix.path().join("etc/cron.d/app-app-cron")).unwrap(),
        format!("30 2 * * * www {}/bin/pack\n", b.root.display())
    );
    let state = b.read(".installed.cfg");
    assert!(state.contains(&format!("log-directory = {p}/var/log/app\n")), "{state}");

    // Uninstall removes the deployment's own directories and files, never the
    // shared cron.d / init.d / logrotate.d.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["build", "--grant", &grant]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!prefix.path().join("etc/app").exists() && !prefix.path().join("var/log/app").exists());
    assert!(!prefix.path().join("etc/cron.d/app-app-cron").exists());
    assert!(prefix.path().join("etc/cron.d").is_dir() && prefix.path().join("etc/init.d").is_dir());
}

/// `shared`: the build goes to a directory named by a hash of its settings and is
/// reused by any part with the same settings; it outlives the parts.
#[test]
fn cmmi_shared_builds_are_reused() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let (base, _up) = support::serve(HashMap::from([("hello-1.0.tar.gz".to_string(), hello_tarball(scratch.path()))]));
    let part =
        |name: &str| format!("[{name}]\nrecipe = zc.recipe.cmmi\nurl = {base}/hello-1.0.tar.gz\nshared = ${{buildout:directory}}/shared\n");
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = one two\n\n{}\n{}", part("one"), part("two")),
    );
    let got = b.bo(&["build", "--grant", "*:host=127.0.0.1", "--grant", "*:program=*"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(got.stdout.contains("two: using existing shared build"), "{}", got.stdout);
    let builds: Vec<_> = std::fs::read_dir(b.root.join("shared"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    let out = Command::new(builds[0].join("bin/hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from cmmi\n");
    // Both parts name the same location; uninstalling them keeps the shared build.
    let state = b.read(".installed.cfg");
    assert_eq!(state.matches(&format!("location = {}", builds[0].display())).count(), 2, "{state}");
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    assert_eq!(b.bo(&["build"]).code, 0);
    assert!(builds[0].join("bin/hello").exists());
}

/// The same JavaScript component answers to `gocept.download`, with that recipe's
/// rules: `md5sum` required, the top-level directory stripped by default.
#[test]
fn gocept_download_flavour() {
    let b = TestBuildout::new();
    let scratch = tempfile::tempdir().unwrap();
    let tarball = hello_tarball(scratch.path());
    let md5 = {
        use std::io::Write;
        let mut child = Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&tarball).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..32].to_string()
    };
    let (base, _up) = support::serve(HashMap::from([("hello-1.0.tar.gz".to_string(), tarball)]));
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = src\n\n[src]\nrecipe = gocept.download\nurl = {base}/hello-1.0.tar.gz\n"),
    );
    let got = b.bo(&["build", "--grant", "src:host=127.0.0.1"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("part src: missing option: md5sum"), "{}", got.stderr);

    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = src\n\n[src]\nrecipe = gocept.download\nurl = {base}/hello-1.0.tar.gz\nmd5sum = {md5}\n"),
    );
    let got = b.bo(&["build", "--grant", "src:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert!(b.root.join("parts/src/configure").is_file(), "stripped by default");
    assert!(b.read(".installed.cfg").contains("recipe = gocept.download"));
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    assert_eq!(b.bo(&["build"]).code, 0);
    assert!(!b.root.join("parts/src").exists());
}
