//! Recipes through OCI registries, against Debian's `docker-registry` on 127.0.0.1
//! (plain, basic auth, TLS with a test CA) started by the test, with Python `oras`
//! as the independent client for interop.

mod support;

use std::path::Path;
use std::process::Command;

use support::{RegistryKind, TestBuildout, registry};

fn tinyrecipe() -> String {
    support::guest_recipes().join("tinyrecipe.wasm").to_string_lossy().into_owned()
}

fn digest_of(stdout: &str) -> String {
    stdout
        .split('@')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("")
        .to_string()
}

fn oras(script: &str) -> String {
    let python = support::python_tools().venv.join("bin/python");
    let out = Command::new(python).args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "oras: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn push_pull_inspect_and_build_offline() {
    let reg = registry(RegistryKind::Plain);
    let b = TestBuildout::new();
    let reference = format!("{}/recipes/tiny:1.0", reg.address);
    let pushed = b.bo(&["recipe", "push", &tinyrecipe(), &reference, "--insecure"]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let digest = digest_of(&pushed.stdout);
    assert!(digest.starts_with("sha256:"), "{}", pushed.stdout);

    let pulled = b.bo(&["recipe", "pull", &reference, "--insecure"]);
    assert_eq!(pulled.code, 0, "{}", pulled.stderr);
    assert_eq!(digest_of(&pulled.stdout), digest);
    let by_digest = b.bo(&["recipe", "pull", &format!("{}/recipes/tiny@{digest}", reg.address), "--insecure"]);
    assert_eq!(by_digest.code, 0, "{}", by_digest.stderr);

    let inspect = b.bo(&["recipe", "inspect", &reference, "--insecure"]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    assert!(
        inspect.stdout.contains("bo:recipe/recipe@0.1.0") && inspect.stdout.contains(&digest),
        "{}",
        inspect.stdout
    );
    assert!(inspect.stdout.contains("\"writes\""), "{}", inspect.stdout);

    // A build naming the recipe by oci:// works, records the digest, then works offline.
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = a\n[a]\nrecipe = oci://{reference}\ncontent = hi\n"),
    );
    let built = b.bo(&["-U", "build", "--grant", "buildout:host=127.0.0.1", "--insecure"]);
    assert_eq!(built.code, 0, "{}{}", built.stdout, built.stderr);
    assert_eq!(b.read("parts/a/content.txt"), "hi");
    assert!(b.read("bo.lock").contains(&digest), "{}", b.read("bo.lock"));
    let offline = b.bo(&["-U", "-o", "build"]);
    assert_eq!(offline.code, 0, "{}", offline.stderr);

    // The tag moves: --locked refuses it; a plain build accepts and records it.
    let noop = support::guest_recipes().join("tinyrecipe-noop.wasm");
    assert_eq!(b.bo(&["recipe", "push", &noop.to_string_lossy(), &reference, "--insecure"]).code, 0);
    let locked = b.bo(&["-U", "build", "--grant", "buildout:host=127.0.0.1", "--insecure", "--locked"]);
    assert_eq!(locked.code, 1);
    assert!(
        locked.stderr.contains("bo.lock has") && locked.stderr.contains(&digest),
        "{}",
        locked.stderr
    );
}

#[test]
fn registry_errors_name_registry_and_reference() {
    let reg = registry(RegistryKind::Plain);
    let b = TestBuildout::new();
    let missing = b.bo(&["recipe", "pull", &format!("{}/nope/nothing:1", reg.address), "--insecure"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains(&reg.address) && missing.stderr.contains("not found"),
        "{}",
        missing.stderr
    );
    let not_loopback = b.bo(&["recipe", "pull", "example.com/x/y:1", "--insecure"]);
    assert!(
        not_loopback.stderr.contains("only allowed for registries on 127.0.0.1"),
        "{}",
        not_loopback.stderr
    );
}

#[test]
fn basic_auth_with_docker_config_login() {
    let reg = registry(RegistryKind::BasicAuth);
    let b = TestBuildout::new();
    let reference = format!("{}/recipes/tiny:1.0", reg.address);
    let denied = b.bo(&["recipe", "push", &tinyrecipe(), &reference, "--insecure"]);
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.contains(&reg.address) && denied.stderr.contains("bo recipe login"),
        "{}",
        denied.stderr
    );
    let login = b.bo(&["recipe", "login", &reg.address, "-u", "tester", "-p", "secret"]);
    assert_eq!(login.code, 0, "{}", login.stderr);
    let pushed = b.bo(&["recipe", "push", &tinyrecipe(), &reference, "--insecure"]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert_eq!(b.bo(&["recipe", "pull", &reference, "--insecure"]).code, 0);
}

#[test]
fn tls_with_an_extra_ca() {
    let reg = registry(RegistryKind::Tls);
    let b = TestBuildout::new();
    let reference = format!("{}/recipes/tiny:1.0", reg.address);
    let untrusted = b.bo(&["recipe", "push", &tinyrecipe(), &reference]);
    assert_eq!(untrusted.code, 1, "a certificate from an unknown CA must be refused");
    let ca = reg.ca.as_ref().unwrap().to_string_lossy().into_owned();
    let pushed = b.bo(&["recipe", "push", &tinyrecipe(), &reference, "--ca-file", &ca]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
}

#[test]
fn interop_with_oras() {
    let reg = registry(RegistryKind::Plain);
    let b = TestBuildout::new();
    // bo pushes, oras pulls the same bytes.
    let reference = format!("{}/recipes/tiny:1.0", reg.address);
    assert_eq!(b.bo(&["recipe", "push", &tinyrecipe(), &reference, "--insecure"]).code, 0);
    let out_dir = b.root.join("oras-out");
    let files = oras(&format!(
        "import oras.client; c = oras.client.OrasClient(hostname='{}', insecure=True); print('\\n'.join(c.pull(target='{reference}', outdir='{}')))",
        reg.address,
        out_dir.display()
    ));
    let pulled = std::fs::read(files.lines().next().unwrap()).unwrap();
    assert_eq!(pulled, std::fs::read(tinyrecipe()).unwrap());

    // oras pushes in the wasm layout, bo pulls and runs it.
    let work = b.root.join("oras-push");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(tinyrecipe(), work.join("recipe.wasm")).unwrap();
    std::fs::write(
        work.join("config.json"),
        r#"{"architecture":"wasm","os":"wasip2","layerDigests":[],"component":{"exports":[],"imports":[],"target":null}}"#,
    )
    .unwrap();
    let theirs = format!("{}/recipes/from-oras:0.1", reg.address);
    let script = format!(
        "import os, oras.client; os.chdir('{}'); c = oras.client.OrasClient(hostname='{}', insecure=True); c.push(target='{theirs}', files=['recipe.wasm:application/wasm'], manifest_config='config.json:application/vnd.wasm.config.v0+json')",
        work.display(),
        reg.address
    );
    oras(&script);
    b.write(
        "buildout.cfg",
        &format!("[buildout]\nparts = a\n[a]\nrecipe = oci://{theirs}\ncontent = from oras\n"),
    );
    let built = b.bo(&["-U", "build", "--grant", "buildout:host=127.0.0.1", "--insecure"]);
    assert_eq!(built.code, 0, "{}{}", built.stdout, built.stderr);
    assert_eq!(
        std::fs::read_to_string(Path::new(&b.root).join("parts/a/content.txt")).unwrap(),
        "from oras"
    );

    // A wrong media type is refused with a clear error.
    let wrong = format!("{}/recipes/wrong:0.1", reg.address);
    oras(&format!(
        "import os, oras.client; os.chdir('{}'); c = oras.client.OrasClient(hostname='{}', insecure=True); c.push(target='{wrong}', files=['recipe.wasm:application/octet-stream'])",
        work.display(),
        reg.address
    ));
    let refused = b.bo(&["recipe", "pull", &wrong, "--insecure"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("application/wasm") && refused.stderr.contains(&wrong.split(':').next().unwrap().to_string()),
        "{}",
        refused.stderr
    );
}
