//! Bundles the example recipes into the `bo` binary: builds `example-recipes/` for
//! `wasm32-wasip2` (in a target directory of its own) and embeds each component, so
//! `recipe = zc.recipe.egg` works with nothing else installed. Without the wasm
//! target (or with `BO_NO_BUNDLED_RECIPES=1`) bo is built without them, with a warning.
//!
//! Each component is also embedded precompiled, by the same wasmtime with the same
//! engine settings as bo's runtime (`runtime::engine_config`, mirrored here), with
//! the engine's compatibility hash: a first use of a bundled Python or JavaScript
//! recipe then costs a copy, not seconds of compiling. bo uses the precompiled code
//! only when its own engine's hash is the same (else it compiles, as for any other
//! component).

use std::path::PathBuf;
use std::process::Command;

/// The generated code: one static per component (embedded once), and the table of
/// names; a component may answer to several names (`NAME.wasm` plus the lines of a
/// `NAME.aliases` file beside it).
#[derive(Default)]
struct Bundle {
    statics: Vec<String>,
    entries: Vec<String>,
    precompiled: Vec<String>,
}

/// The engine bo's runtime uses (keep in step with `runtime::engine_config`).
fn engine() -> wasmtime::Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    wasmtime::Engine::new(&config).expect("an engine")
}

impl Bundle {
    /// Adds a component under `names`, with its digest computed here so that bo never
    /// hashes the (up to 18 MB) embedded bytes at run time.
    fn add(&mut self, names: &[String], file: &std::path::Path, engine: Option<&wasmtime::Engine>, out: &std::path::Path) {
        use sha2::Digest;
        let bytes = std::fs::read(file).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        let id = format!("RECIPE_{}", self.statics.len());
        self.statics
            .push(format!("static {id}: &[u8] = include_bytes!({:?});", file.display().to_string()));
        if let Some(engine) = engine {
            match engine.precompile_component(&bytes) {
                Ok(code) => {
                    let path = out.join(format!("{digest}.cwasm"));
                    let code_sha256 = hex::encode(sha2::Sha256::digest(&code));
                    std::fs::write(&path, code).unwrap();
                    self.precompiled.push(format!(
                        "    (\"sha256:{digest}\", \"{code_sha256}\", include_bytes!({:?})),",
                        path.display().to_string()
                    ));
                }
                Err(e) => println!("cargo:warning=cannot precompile {}: {e:#}", file.display()),
            }
        }
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
    // Precompiling costs build time (seconds for the Python and JavaScript
    // components); BO_NO_PRECOMPILED_RECIPES=1 skips it.
    println!("cargo:rerun-if-env-changed=BO_NO_PRECOMPILED_RECIPES");
    let engine = std::env::var_os("BO_NO_PRECOMPILED_RECIPES").is_none().then(engine);
    let engine = engine.as_ref();
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
                    bundle.add(&[name], &file, engine, &out);
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
                bundle.add(&names, &file, engine, &out);
            }
        }
    }
    let compatibility = engine.map(|e| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        e.precompile_compatibility_hash().hash(&mut hasher);
        hasher.finish()
    });
    let code = format!(
        "{}\n/// Recipes built into bo: (name, sha256 digest, component).\npub static BUNDLED: &[(&str, &str, &[u8])] = &[\n{}\n];\n\
         /// The compatibility hash of the engine that precompiled them, if any.\npub static PRECOMPILED_FOR: Option<u64> = {:?};\n\
         /// Bundled recipes precompiled: (sha256 digest, the code's own sha256, native code).\npub static PRECOMPILED: &[(&str, &str, &[u8])] = &[\n{}\n];\n",
        bundle.statics.join("\n"),
        bundle.entries.join("\n"),
        compatibility,
        bundle.precompiled.join("\n")
    );
    std::fs::write(out.join("bundled.rs"), code).unwrap();
}
