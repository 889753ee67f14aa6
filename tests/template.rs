//! `collective.recipe.template`, a recipe written in Python (componentize-py) and
//! bundled in bo: output byte-compared, update rewrites only on change, uninstall
//! removes exactly what install created, and writing outside the buildout is denied
//! with the grant to add.

mod support;

use support::TestBuildout;

#[test]
fn renders_inline_and_file_templates() {
    let b = TestBuildout::new();
    b.write(
        "templates/message.in",
        "Top: ${buildout:directory}\nMine: ${greeting}\nKept: $$HOME\n",
    );
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = message inline\n\n[message]\nrecipe = collective.recipe.template\ninput = templates/message.in\noutput = ${buildout:directory}/etc/deep/message.txt\ngreeting = Hello, World!\nmode = 640\n\n[inline]\nrecipe = collective.recipe.template\ninline =\n    #!/bin/sh\n    echo ${message:greeting}\noutput = ${buildout:bin-directory}/hello\nmode = 755\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    let root = b.root.to_string_lossy().into_owned();
    assert_eq!(
        b.read("etc/deep/message.txt"),
        format!("Top: {root}\nMine: Hello, World!\nKept: $$HOME\n")
    );
    assert_eq!(b.read("bin/hello"), "#!/bin/sh\necho Hello, World!");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(b.root.join("bin/hello")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    let out = std::process::Command::new(b.root.join("bin/hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!\n");

    // Uninstall removes exactly what install created (the file and the directories
    // it had to make), nothing else.
    b.write("buildout.cfg", "[buildout]\nparts =\n");
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!b.root.join("etc").exists() && !b.root.join("bin/hello").exists());
    assert!(b.root.join("templates/message.in").exists() && b.root.join("bin").exists());
}

#[test]
fn output_outside_the_buildout_is_denied() {
    let b = TestBuildout::new();
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = t\n[t]\nrecipe = collective.recipe.template\ninline = x\noutput = /tmp/bo-template-escape/out.txt\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 1);
    assert!(got.stderr.contains("part t (recipe collective.recipe.template) was denied outside \"/tmp/bo-template-escape\": grant it with `--grant t:outside=/tmp/bo-template-escape`"), "{}", got.stderr);
    assert!(!std::path::Path::new("/tmp/bo-template-escape/out.txt").exists());
}

/// A template may use any section, as Buildout's `buildout[section]` does, not only
/// those its part references (here `[ports]`, named only in the input file).
#[test]
fn templates_see_sections_their_part_does_not_reference() {
    let b = TestBuildout::with_recipes();
    b.write("templates/conf.in", "listen ${ports:http}\n");
    b.write(
        "buildout.cfg",
        "[buildout]\nparts = conf\n\n[ports]\nhttp = 8080\n\n[broken]\nx = ${nowhere:y}\n\n[conf]\nrecipe = collective.recipe.template\ninput = templates/conf.in\noutput = ${buildout:directory}/etc/conf\n",
    );
    let got = b.bo(&["-U", "build"]);
    assert_eq!(got.code, 0, "{}\n{}", got.stdout, got.stderr);
    assert_eq!(b.read("etc/conf"), "listen 8080\n");
}
