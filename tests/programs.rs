//! Programs a part runs, as a user at a terminal meets them: their output arrives
//! line by line while they run (with -v), and Ctrl-C stops them with bo, undoing
//! the part as a failure does, so that the next build converges.

mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use support::TestBuildout;

#[test]
fn output_lines_arrive_while_the_program_runs() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = echo first-line; sleep 3; echo second-line\n",
    );
    let started = Instant::now();
    let mut bo = b.spawn(
        &support::repo_root().join("target/test-cache"),
        &["-U", "-v", "build", "--grant", "cmd:program=sh"],
    );
    let stdout = BufReader::new(bo.stdout.take().unwrap());
    let mut first_at = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if first_at.is_none() && line.contains("first-line") && !line.contains("Running") {
            first_at = Some(started.elapsed());
        }
    }
    let status = bo.wait().unwrap();
    let total = started.elapsed();
    assert!(status.success());
    let first_at = first_at.expect("the program's first line was shown");
    assert!(
        first_at + Duration::from_millis(1500) < total,
        "first line at {first_at:?}, bo done at {total:?}"
    );
}

#[test]
fn ctrl_c_stops_the_programs_and_leaves_a_consistent_state() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = while true; do mkdir -p ${buildout:parts-directory}/cmd; echo beat >> ${buildout:parts-directory}/cmd/beat; sleep 0.2; done\n",
    );
    let mut bo = b.spawn(
        &support::repo_root().join("target/test-cache"),
        &["-U", "build", "--grant", "cmd:program=sh"],
    );
    let beat = b.root.join("parts/cmd/beat");
    let waited = Instant::now();
    while !beat.exists() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(beat.exists(), "the program started");
    // SAFETY: signalling the process this test started.
    unsafe { libc::kill(bo.id() as i32, libc::SIGINT) };
    let stopped = Instant::now();
    let status = bo.wait().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "bo took {:?} to stop",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    // A program still running would bring its directory back within 0.2 s.
    std::thread::sleep(Duration::from_millis(1000));
    // The part was undone; the state file says nothing of it.
    assert!(!b.root.join("parts/cmd").exists());
    assert!(!b.read(".installed.cfg").contains("[cmd]"));
    // The next build converges.
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = echo again\n",
    );
    let got = b.bo(&["-U", "build", "--grant", "cmd:program=sh"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
}
