//! `bo recipe ...`: publishing and fetching recipes through OCI registries, and
//! looking inside them without running them.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;

use super::RegistryArgs;
use crate::runtime::{Limits, Runtime};

#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
    /// Scaffold a recipe: `bo recipe new NAME` makes `NAME/` with a working recipe.
    New {
        name: String,
        /// The language to write it in: rust (through the SDK), python
        /// (componentize-py), javascript (componentize-js) or c (clang + wasi-libc).
        #[arg(long, short = 'l', default_value = "rust", value_parser = ["rust", "python", "javascript", "c"])]
        language: String,
        /// Where the recipe SDK is (default: the one this bo was built from).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Build the recipe in DIR (default `.`) to a component and describe it.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Publish a recipe component: `bo recipe push FILE.wasm registry/ns/name:tag`.
    Push {
        file: PathBuf,
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Fetch a recipe into the local store (by tag or `@sha256:...`).
    Pull {
        reference: String,
        /// Also copy the component to this file.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a recipe's world, declared capabilities, digest and size, without running it.
    Inspect {
        /// A registry reference, or a local `.wasm` file.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Store registry credentials in the docker config file.
    Login {
        registry: String,
        #[arg(short, long)]
        username: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(short, long)]
        password: Option<String>,
    },
}

fn runtime() -> Result<Runtime, String> {
    Runtime::new(crate::fsutil::default_cache_dir(), Limits::default()).map_err(|e| format!("cannot start the recipe runtime: {e:#}"))
}

const TEMPLATE_LIB: &str = r#"//! RECIPE: a bo recipe. Writes `greeting` into parts/<part>/greeting.txt.

use bo_recipe_sdk::{Manifest, Options, Recipe, config_get, export_recipe, log};

struct Greeter;

impl Recipe for Greeter {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        // Declare every capability the recipe needs: writes (inside the buildout),
        // outside, hosts, programs, env. Users grant the ones that need it.
        Manifest::new("RECIPE", "Writes a greeting into parts/<part>/greeting.txt")
    }

    fn init(part: &str, options: &mut Options) -> Result<(), String> {
        let parts = config_get("buildout", "parts-directory").ok_or("no parts-directory")?;
        options.set("location", format!("{parts}/{part}"));
        Ok(())
    }

    fn install(_part: &str, options: &Options) -> Result<Vec<String>, String> {
        let location = options.require("location")?;
        std::fs::create_dir_all(&location).map_err(|e| format!("cannot create {location}: {e}"))?;
        let greeting = options.get_or("greeting", "Hello!");
        std::fs::write(format!("{location}/greeting.txt"), greeting).map_err(|e| e.to_string())?;
        Ok(vec![location])
    }

    fn update(part: &str, _options: &Options) -> Result<Vec<String>, String> {
        log::info(&format!("{part} is up to date"));
        Ok(Vec::new())
    }
}

export_recipe!(Greeter);
"#;

/// The templates for recipes in other languages: (language, file, text). Each gets
/// the WIT beside it, so the recipe directory builds on its own.
const TEMPLATES: &[(&str, &str, &str)] = &[
    ("python", "app.py", include_str!("../../../recipes-sdk/templates/python/app.py")),
    ("python", "build.sh", include_str!("../../../recipes-sdk/templates/python/build.sh")),
    (
        "javascript",
        "recipe.js",
        include_str!("../../../recipes-sdk/templates/javascript/recipe.js"),
    ),
    (
        "javascript",
        "build.sh",
        include_str!("../../../recipes-sdk/templates/javascript/build.sh"),
    ),
    ("c", "main.c", include_str!("../../../recipes-sdk/templates/c/main.c")),
    ("c", "build.sh", include_str!("../../../recipes-sdk/templates/c/build.sh")),
];

const WIT: &str = include_str!("../../../wit/recipe/recipe.wit");

fn new_other_language(name: &str, language: &str, dir: &std::path::Path) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write {}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("wit")).map_err(io)?;
    std::fs::write(dir.join("wit/recipe.wit"), WIT).map_err(io)?;
    for (_, file, text) in TEMPLATES.iter().filter(|(l, _, _)| *l == language) {
        let path = dir.join(file);
        std::fs::write(&path, text.replace("__NAME__", name)).map_err(io)?;
        #[cfg(unix)]
        if file.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
    }
    std::fs::write(dir.join(".gitignore"), "*.wasm\n__pycache__/\nnode_modules/\n").map_err(io)?;
    println!("created {language} recipe {name} in {}", dir.display());
    println!("build it with `bo recipe build {name}` (runs its build.sh); use it with `recipe = {name}/{name}.wasm`");
    Ok(())
}

fn new_recipe(name: &str, language: &str, sdk: Option<&PathBuf>) -> Result<(), String> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!("invalid recipe name {name:?}: use letters, digits, - and _"));
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    if language != "rust" {
        return new_other_language(name, language, &dir);
    }
    let sdk = match sdk {
        Some(path) => path.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../recipes-sdk"),
    };
    let sdk = sdk
        .canonicalize()
        .map_err(|_| format!("recipe SDK not found at {}; give its directory with --sdk", sdk.display()))?;
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nbo-recipe-sdk = {{ path = \"{}\" }}\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\n\n# A workspace of its own.\n[workspace]\n",
        sdk.display()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/lib.rs"), TEMPLATE_LIB.replace("RECIPE", name)).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(".gitignore"), "target/\n").map_err(|e| e.to_string())?;
    println!("created recipe {name} in {}", dir.display());
    println!(
        "build it with `bo recipe build {name}`; use it with `recipe = {name}/target/wasm32-wasip2/release/{}.wasm`",
        name.replace('-', "_")
    );
    Ok(())
}

/// Builds a recipe in another language through its `build.sh`, which writes
/// `<dir name>.wasm` beside it.
fn build_with_script(dir: &std::path::Path) -> Result<(), String> {
    let status = std::process::Command::new("bash")
        .arg("build.sh")
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run {}/build.sh: {e}", dir.display()))?;
    if !status.success() {
        return Err(format!("{}/build.sh failed", dir.display()));
    }
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    describe_built(&name, &dir.join(format!("{name}.wasm")))
}

fn describe_built(name: &str, output: &std::path::Path) -> Result<(), String> {
    let bytes = crate::oci::read_component(output)?;
    let loaded = runtime()?.load(name, &bytes).map_err(|e| e.to_string())?;
    println!("built {} ({} bytes, {})", output.display(), bytes.len(), loaded.digest);
    println!("declares: {}", serde_json::to_string(&loaded.declared()).unwrap_or_default());
    Ok(())
}

fn build_recipe(dir: &std::path::Path) -> Result<(), String> {
    if !dir.join("Cargo.toml").exists() && dir.join("build.sh").exists() {
        return build_with_script(dir);
    }
    let manifest =
        std::fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| format!("{}: no Cargo.toml (nor build.sh): {e}", dir.display()))?;
    let name = manifest
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("name")
                .and_then(|r| r.trim().strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
        .ok_or("Cargo.toml has no package name")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build failed (is the target installed? `rustup target add wasm32-wasip2`)".into());
    }
    let output = dir
        .join("target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    describe_built(&name, &output)
}

/// A local component's bytes and the wasm OCI config describing it (its world,
/// imports, exports and declared capabilities), as `push` publishes it.
fn describe_file(path: &std::path::Path) -> Result<(Vec<u8>, serde_json::Value), String> {
    let bytes = crate::oci::read_component(path)?;
    let loaded = runtime()?.load(&path.to_string_lossy(), &bytes).map_err(|e| e.to_string())?;
    let config = crate::oci::wasm_config(
        &bytes,
        crate::runtime::WORLD,
        loaded.exports.clone(),
        loaded.imports.clone(),
        loaded.manifest_json(),
    );
    Ok((bytes, config))
}

pub fn run(command: &RecipeCommand) -> Result<(), String> {
    match command {
        RecipeCommand::New { name, language, sdk } => new_recipe(name, language, sdk.as_ref()),
        RecipeCommand::Build { dir } => build_recipe(dir),
        RecipeCommand::Push { file, reference, registry } => {
            let (bytes, config) = describe_file(file)?;
            let digest = crate::oci::push(&bytes, &config, reference, &registry.options(false))?;
            println!("pushed {reference}@{digest}");
            Ok(())
        }
        RecipeCommand::Pull {
            reference,
            output,
            registry,
        } => {
            let pulled = crate::oci::pull(reference, &registry.options(false))?;
            if let Some(output) = output {
                std::fs::copy(&pulled.component, output).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            }
            println!(
                "pulled {}@{} ({} bytes)",
                reference.trim_start_matches("oci://"),
                pulled.manifest_digest,
                pulled.size
            );
            Ok(())
        }
        RecipeCommand::Inspect { reference, registry } => {
            let (digest, size, config) = if reference.ends_with(".wasm") && std::path::Path::new(reference).is_file() {
                let (bytes, config) = describe_file(std::path::Path::new(reference))?;
                (crate::oci::sha256_digest(&bytes), bytes.len() as u64, config)
            } else {
                let pulled = crate::oci::pull(reference, &registry.options(false))?;
                (pulled.manifest_digest, pulled.size, pulled.config)
            };
            let bo = &config["bo"];
            println!("reference:    {reference}");
            println!("digest:       {digest}");
            println!("size:         {size} bytes");
            println!("world:        {}", config["component"]["target"].as_str().unwrap_or("(unknown)"));
            println!("names:        {}", bo["names"]);
            println!("description:  {}", bo["description"].as_str().unwrap_or(""));
            println!(
                "capabilities: {}",
                serde_json::to_string_pretty(&bo["capabilities"])
                    .unwrap_or_default()
                    .replace('\n', "\n              ")
            );
            Ok(())
        }
        RecipeCommand::Login {
            registry,
            username,
            password_stdin,
            password,
        } => {
            let password = match (password, password_stdin) {
                (Some(p), false) => p.clone(),
                (None, true) => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).map_err(|e| e.to_string())?;
                    text.trim_end_matches(['\n', '\r']).to_string()
                }
                _ => return Err("give the password with --password-stdin (or --password)".into()),
            };
            let path = crate::oci::auth::login(registry, username, &password)?;
            println!("credentials for {registry} stored in {}", path.display());
            Ok(())
        }
    }
}
