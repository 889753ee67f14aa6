//! Grants, as a new user meets them: every missing grant at once before anything
//! runs (`bo plan` lists them, `bo build` stops with one ready line), `bo grant`
//! keeps them bound to the recipe each part has, and a configuration that gives a
//! part another recipe loses that part's grants, saying why.

mod support;

use support::TestBuildout;

const FIVE: &str = "[buildout]\nparts = one two build\n\n[build]\nrecipe = zc.recipe.cmmi\nurl = file:///nonexistent.tar.gz\n\n[one]\nrecipe = plone.recipe.command\ncommand = echo one\n\n[two]\nrecipe = plone.recipe.command\ncommand = echo two\n";

#[test]
fn every_missing_grant_at_once() {
    let b = TestBuildout::new();
    b.write("buildout.cfg", FIVE);
    let wanted = [
        "one:program=sh",
        "two:program=sh",
        "build:program=sh",
        "build:program=make",
        "build:program=patch",
    ];

    let plan = b.bo(&["-U", "plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("capabilities:"), "{}", plan.stdout);
    assert_eq!(plan.stdout.matches("(not granted)").count(), 5, "{}", plan.stdout);

    let build = b.bo(&["-U", "build"]);
    assert_eq!(build.code, 1);
    let flags: Vec<String> = wanted.iter().map(|g| format!("--grant {g}")).collect();
    assert!(build.stderr.contains(&format!("bo build {}", flags.join(" "))), "{}", build.stderr);
    assert!(build.stderr.contains(&format!("bo grant {}", wanted.join(" "))), "{}", build.stderr);
    assert!(build.stderr.contains("nothing was run"), "{}", build.stderr);
    assert!(!b.root.join("parts").join("build").exists() && !b.root.join(".installed.cfg").exists());

    // `bo grant` keeps them, bound to each part's recipe; then the build runs
    // (the cmmi part fails on its missing archive, after the commands ran).
    let grants_file = b.root.join("home/grants.toml");
    let mut b = b;
    b.env.push(("BO_GRANTS_FILE".into(), grants_file.display().to_string()));
    let mut args = vec!["-U", "grant"];
    args.extend(wanted);
    let granted = b.bo(&args);
    assert_eq!(granted.code, 0, "{}", granted.stderr);
    let file = std::fs::read_to_string(&grants_file).unwrap();
    assert!(
        file.contains("build@zc.recipe.cmmi:program=make") && file.contains("one@plone.recipe.command:program=sh"),
        "{file}"
    );
    let plan = b.bo(&["-U", "plan"]);
    assert_eq!(plan.stdout.matches("(not granted)").count(), 0, "{}", plan.stdout);
    let build = b.bo(&["-U", "build", "-j1"]);
    assert!(!build.stderr.contains("nothing was run"), "{}", build.stderr);
    assert!(build.stdout.contains("one: Running 'echo one'"), "{}", build.stdout);
}

#[test]
fn a_part_whose_recipe_changes_loses_its_grants() {
    let mut b = TestBuildout::with_recipes();
    let grants_file = b.root.join("home/grants.toml");
    b.env.push(("BO_GRANTS_FILE".into(), grants_file.display().to_string()));
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = echo hi\n",
    );
    assert_eq!(b.bo(&["-U", "grant", "cmd:program=sh"]).code, 0);
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);

    // A `git pull` later, the part runs another recipe that also wants `sh`.
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = cmd\n[cmd]\nrecipe = sandbox-probe\nattack = program\nprogram = true\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(
        got.stderr.contains("note: part cmd now uses recipe sandbox-probe; the grants you gave it for another recipe do not apply: cmd@plone.recipe.command:program=sh"),
        "{}",
        got.stderr
    );
    assert!(got.stderr.contains("--grant cmd:program=true"), "{}", got.stderr);
}

#[test]
fn another_entry_of_the_same_project_is_another_recipe() {
    let mut b = TestBuildout::with_recipes();
    let grants_file = b.root.join("home/grants.toml");
    b.env.push(("BO_GRANTS_FILE".into(), grants_file.display().to_string()));
    b.write("buildout.cfg", "[buildout]\nparts = p\n[p]\nrecipe = tinyrecipe\n");
    assert_eq!(b.bo(&["-U", "grant", "p:env=HOME"]).code, 0);
    assert!(std::fs::read_to_string(&grants_file).unwrap().contains("p@tinyrecipe:env=HOME"));
    b.write("buildout.cfg", "[buildout]\nparts = p\n[p]\nrecipe = tinyrecipe:noop\n");
    let got = b.bo(&["-U", "build"]);
    assert!(
        got.stderr
            .contains("note: part p now uses recipe tinyrecipe:noop; the grants you gave it for another recipe do not apply"),
        "{}",
        got.stderr
    );
}
