//! Bundles the example recipes into the `bo` binary: builds `example-recipes/` for
//! `wasm32-wasip2` (in a target directory of its own) and embeds each component, so
//! `recipe = zc.recipe.egg` works with nothing else installed. Without the wasm
//! target (or with `BO_NO_BUNDLED_RECIPES=1`) bo is built without them, with a warning.

use std::path::PathBuf;
use std::process::Command;

/// One bundled recipe, with its digest computed here so that bo never hashes the
/// (up to 18 MB) embedded bytes at run time.
fn entry(name: &str, file: &std::path::Path) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(file).unwrap()));
    format!("    ({name:?}, \"sha256:{digest}\", include_bytes!({:?})),", file.display().to_string())
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for watched in ["example-recipes", "recipes-sdk/src", "recipes-sdk/Cargo.toml", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=BO_NO_BUNDLED_RECIPES");
    let mut entries = Vec::new();
    if std::env::var_os("BO_NO_BUNDLED_RECIPES").is_none() {
        let target_dir = root.join("target").join("bundled-recipes");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(root.join("example-recipes/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // The outer build's settings are for the host, not for the guests.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .status();
        match status {
            Ok(s) if s.success() => {
                let built = target_dir.join("wasm32-wasip2/release");
                let mut files: Vec<PathBuf> = std::fs::read_dir(&built)
                    .map(|d| {
                        d.flatten()
                            .map(|e| e.path())
                            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                for file in files {
                    let name = file.file_stem().unwrap().to_string_lossy().replace('_', "-");
                    entries.push(entry(&name, &file));
                }
            }
            _ => println!(
                "cargo:warning=example recipes not bundled (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
            ),
        }
        // Recipes in other languages are checked in prebuilt (each directory has the
        // command that rebuilds it); they are bundled under their file names.
        for language in ["python", "javascript", "c"] {
            let dir = root.join("example-recipes").join(language);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten().map(|f| f.path()))
                        .collect()
                })
                .unwrap_or_default();
            files.retain(|p| p.extension().is_some_and(|e| e == "wasm"));
            files.sort();
            for file in files {
                let name = file.file_stem().unwrap().to_string_lossy().into_owned();
                entries.push(entry(&name, &file));
            }
        }
    }
    let code = format!(
        "/// Recipes built into bo: (name, sha256 digest, component).\npub static BUNDLED: &[(&str, &str, &[u8])] = &[\n{}\n];\n",
        entries.join("\n")
    );
    std::fs::write(out.join("bundled.rs"), code).unwrap();
}
