//! Several bo at once: one build per buildout at a time (a second one waits, as
//! cargo does), and buildouts sharing bo's caches (precompiled recipes, downloads)
//! build at the same time without tearing anything.

mod support;

use support::TestBuildout;

#[test]
fn a_second_build_of_one_buildout_waits_for_the_first() {
    let cache = support::repo_root().join("target/test-cache");
    let b = TestBuildout::with_recipes();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = slow\n[slow]\nrecipe = sandbox-probe\nattack = sleep\nms = 1500\n",
    );
    let args = ["-U", "build", "--grant", "slow:program=true", "--grant", "slow:host=127.0.0.1"];
    let first = b.spawn(&cache, &args);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let second = b.spawn(&cache, &args);
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let waited = String::from_utf8_lossy(&second.stderr);
    assert!(waited.contains("Blocking: another bo is building"), "{waited}");
    // The second found the part installed by the first: an update, not a reinstall.
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("Updating slow."),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    let state = b.read(".installed.cfg");
    assert_eq!(state.matches("[slow]").count(), 1, "{state}");
}

#[test]
fn buildouts_sharing_a_cache_build_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let buildouts: Vec<TestBuildout> = (0..2)
        .map(|i| {
            let b = TestBuildout::with_recipes();
            b.write(
                "buildout.cfg",
                &format!(
                    "[buildout]\nparts = a t\n[a]\nrecipe = tinyrecipe\ncontent = {i}\n[t]\nrecipe = collective.recipe.template\ninline = hello {i}\noutput = ${{buildout:directory}}/etc/out.txt\n"
                ),
            );
            b
        })
        .collect();
    // 20 runs: each buildout ten times, all at once, on one fresh cache (every run
    // may compile and store the same recipes).
    let runs: Vec<_> = (0..20)
        .map(|i| buildouts[i % 2].spawn(cache.path(), &["-U", "-q", "build"]))
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for (i, b) in buildouts.iter().enumerate() {
        assert_eq!(b.read("etc/out.txt"), format!("hello {i}"));
        assert_eq!(b.read("parts/a/content.txt"), i.to_string());
    }
    // Nothing half-written is left in the cache, and what is there is usable.
    let leftovers: Vec<_> = support::walk(cache.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let again = buildouts[0].spawn(cache.path(), &["-U", "-q", "build"]).wait_with_output().unwrap();
    assert!(again.status.success());
}
