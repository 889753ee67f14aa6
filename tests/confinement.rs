//! Programs a part runs, attacked: a granted program is confined to the part's
//! rights (files, network, Unix sockets, io_uring, descriptors, its lifetime); each
//! test runs a hostile command through the real `bo build` and checks a concrete
//! effect (a canary untouched, no connection reaching a server, no survivor).

mod support;

use std::sync::atomic::Ordering;

use support::{TestBuildout, canary, counting_server};

/// A granted `sh` runs confined: writing outside its part, reading the user's
/// `~/.ssh`, reaching a local server and seeing bo's secrets all fail, while its
/// writes to its own part succeed.
#[test]
fn granted_programs_run_confined() {
    let (_keep, canary) = canary();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/id_rsa"), "PRIVATE-KEY-hunter2\n").unwrap();
    let (base, connections) = counting_server();
    let port = base.rsplit(':').next().unwrap();
    let outside = canary.parent().unwrap().display().to_string();
    let mut b = TestBuildout::with_recipes();
    b.env.push(("HOME".into(), home.path().display().to_string()));
    b.env.push(("BO_SECRET_TOKEN".into(), "hunter2-token".into()));
    let log = "${buildout:parts-directory}/cmd/log.txt";
    let script = [
        format!("mkdir -p ${{buildout:parts-directory}}/cmd && echo mine > {log}"),
        format!("echo escaped > {outside}/written; echo outside=$? >> {log}"),
        format!("cat {}/.ssh/id_rsa >> {log}; echo ssh=$? >> {log}", home.path().display()),
        format!("bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'; echo tcp=$? >> {log}"),
        format!("echo token=$BO_SECRET_TOKEN home=$HOME >> {log}"),
    ]
    .join(" ; ");
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = {script}\n"),
    );
    let got = b.bo(&["-U", "build", "--grant", "cmd:program=sh"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let log = b.read("parts/cmd/log.txt");
    assert!(log.starts_with("mine\n"), "{log}");
    assert!(!log.contains("outside=0") && log.contains("outside="), "{log}");
    assert!(!log.contains("hunter2") && !log.contains("ssh=0"), "{log}");
    assert!(!log.contains("tcp=0") && log.contains("tcp="), "{log}");
    assert!(log.contains("token= "), "{log}");
    assert!(!log.contains(&format!("home={}", home.path().display())), "{log}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the program reached the server");
}

/// More of what a confined program may not do: connect to a named Unix socket
/// (an ssh-agent, Docker, D-Bus), use the network on a host grant its recipe does
/// not declare, leave a daemon running after it (`setsid`, `nohup`), or keep a
/// controlling terminal.
#[test]
fn confined_programs_cannot_reach_sockets_or_outlive_their_run() {
    let sockets = tempfile::tempdir().unwrap();
    let socket_path = sockets.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let (base, connections) = counting_server();
    let port = base.rsplit(':').next().unwrap();
    let b = TestBuildout::with_recipes();
    let dir = "${buildout:parts-directory}/cmd";
    let script = [
        format!("mkdir -p {dir}"),
        format!(
            "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('{}')\" 2> {dir}/unix.err; echo unix=$? >> {dir}/log",
            socket_path.display()
        ),
        format!("bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'; echo tcp=$? >> {dir}/log"),
        format!("awk '{{print \"tty_nr=\" $7}}' /proc/self/stat >> {dir}/log"),
        format!("setsid sh -c 'while true; do echo beat >> {dir}/beat; sleep 0.2; done' > /dev/null 2>&1 & true"),
        format!("(nohup sh -c 'while true; do echo beat >> {dir}/beat2; sleep 0.2; done' > /dev/null 2>&1 &)"),
        "sleep 1".to_string(),
    ]
    .join(" ; ");
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = {script}\n"),
    );
    // A host grant the recipe does not declare opens no network.
    let got = b.bo(&["-U", "build", "--grant", "cmd:program=sh", "--grant", "cmd:host=127.0.0.1"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let log = b.read("parts/cmd/log");
    assert!(
        log.contains("unix=") && !log.contains("unix=0"),
        "{log}\n{}\n{}",
        b.read("parts/cmd/unix.err"),
        got.stdout
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a program connected to the socket"
    );
    assert!(log.contains("tcp=") && !log.contains("tcp=0"), "{log}");
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    assert!(log.contains("tty_nr=0"), "{log}");
    // The daemons died with the program.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (beat, beat2) = (b.read("parts/cmd/beat").len(), b.read("parts/cmd/beat2").len());
    assert!(beat > 0 && beat2 > 0, "the daemons ran");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(
        (b.read("parts/cmd/beat").len(), b.read("parts/cmd/beat2").len()),
        (beat, beat2),
        "a daemon outlived its run"
    );
}

/// Ways around the confinement a third attack found: io_uring (sockets made in
/// the kernel, without `socket`), leaving the process group with `setsid` to
/// outlive an interrupted bo, and descriptors inherited from bo.
#[test]
fn confined_programs_get_no_io_uring_no_inherited_descriptors_and_die_with_bo() {
    let (_keep, canary) = canary();
    let b = TestBuildout::with_recipes();
    b.write(
        "uring.c",
        "#include <stdio.h>\n#include <string.h>\n#include <errno.h>\n#include <unistd.h>\n#include <sys/syscall.h>\nint main(void) { char p[120]; memset(p, 0, sizeof p);\n long fd = syscall(425, 4, p); printf(\"io_uring_setup=%ld %s\\n\", fd, fd < 0 ? strerror(errno) : \"\"); return 0; }\n",
    );
    let compiled = std::process::Command::new("cc")
        .args(["-o", "uring", "uring.c"])
        .current_dir(&b.root)
        .status()
        .unwrap();
    assert!(compiled.success());
    let dir = "${buildout:parts-directory}/cmd";
    b.write(
        "buildout.cfg",
        &format!(
            "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = mkdir -p {dir}; ${{buildout:directory}}/uring > {dir}/uring.txt; echo through-fd-9 >&9; echo fd9=$? > {dir}/fd.txt\n"
        ),
    );
    // bo started with descriptor 9 open on a file outside.
    let bo = env!("CARGO_BIN_EXE_bo");
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("exec {bo} -U build --grant cmd:program=sh 9>>{}", canary.display())])
        .current_dir(&b.root)
        .env("HOME", b.root.join("home"))
        .env("BO_RECIPE_PATH", &b.recipe_path)
        .env("BO_CACHE_DIR", support::repo_root().join("target/test-cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let uring = b.read("parts/cmd/uring.txt");
    assert!(uring.starts_with("io_uring_setup=-1"), "{uring}");
    assert!(!b.read("parts/cmd/fd.txt").contains("fd9=0"), "{}", b.read("parts/cmd/fd.txt"));
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched\n");

    // A program that leaves its session cannot outlive an interrupted bo.
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = mkdir -p ${buildout:parts-directory}/cmd; touch ${buildout:parts-directory}/cmd/started; exec setsid sleep 4242.4242\n",
    );
    let mut running = std::process::Command::new(bo)
        .args(["-U", "build", "--grant", "cmd:program=sh"])
        .current_dir(&b.root)
        .env("HOME", b.root.join("home"))
        .env("BO_RECIPE_PATH", &b.recipe_path)
        .env("BO_CACHE_DIR", support::repo_root().join("target/test-cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while !b.root.join("parts/cmd/started").exists() && waited.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling the process this test started.
    unsafe { libc::kill(running.id() as i32, libc::SIGINT) };
    assert_eq!(running.wait().unwrap().code(), Some(130));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let survivors: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains("4242.4242"))
        .collect();
    assert!(survivors.is_empty(), "a program outlived bo");
}
