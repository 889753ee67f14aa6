//! Bundles the example recipes into the `bo` binary: builds `example-recipes/` for
//! `wasm32-wasip2` (in a target directory of its own) and embeds each component, so
//! `recipe = zc.recipe.egg` works with nothing else installed. Without the wasm
//! target (or with `BO_NO_BUNDLED_RECIPES=1`) bo is built without them, with a warning.

use std::path::PathBuf;
use std::process::Command;

/// The generated code: one static per component (embedded once), and the table of
/// names; a component may answer to several names (`NAME.wasm` plus the lines of a
/// `NAME.aliases` file beside it).
#[derive(Default)]
struct Bundle {
    statics: Vec<String>,
    entries: Vec<String>,
}

impl Bundle {
    /// Adds a component under `names`, with its digest computed here so that bo never
    /// hashes the (up to 18 MB) embedded bytes at run time.
    fn add(&mut self, names: &[String], file: &std::path::Path) {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(std::fs::read(file).unwrap()));
        let id = format!("RECIPE_{}", self.statics.len());
        self.statics
            .push(format!("static {id}: &[u8] = include_bytes!({:?});", file.display().to_string()));
        for name in names {
            self.entries.push(format!("    ({name:?}, \"sha256:{digest}\", {id}),"));
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for watched in ["example-recipes", "recipes-sdk/src", "recipes-sdk/Cargo.toml", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=BO_NO_BUNDLED_RECIPES");
    let mut bundle = Bundle::default();
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
                    bundle.add(&[name], &file);
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
                let mut names = vec![name];
                if let Ok(aliases) = std::fs::read_to_string(file.with_extension("aliases")) {
                    names.extend(aliases.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
                }
                bundle.add(&names, &file);
            }
        }
    }
    let code = format!(
        "{}\n/// Recipes built into bo: (name, sha256 digest, component).\npub static BUNDLED: &[(&str, &str, &[u8])] = &[\n{}\n];\n",
        bundle.statics.join("\n"),
        bundle.entries.join("\n")
    );
    std::fs::write(out.join("bundled.rs"), code).unwrap();
}
