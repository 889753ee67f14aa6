//! `bo recipe ...`: publishing and fetching recipes through OCI registries, and
//! looking inside them without running them.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;

use super::RegistryArgs;
use crate::runtime::{Limits, Runtime};

#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
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
    Runtime::new(crate::runtime::cache::default_cache_dir(), Limits::default()).map_err(|e| format!("cannot start the recipe runtime: {e:#}"))
}

pub fn run(command: &RecipeCommand) -> Result<(), String> {
    match command {
        RecipeCommand::Push { file, reference, registry } => {
            let bytes = crate::oci::read_component(file)?;
            let loaded = runtime()?.load(&file.to_string_lossy(), &bytes).map_err(|e| e.to_string())?;
            let config = crate::oci::wasm_config(
                &bytes,
                crate::runtime::WORLD,
                loaded.exports.clone(),
                loaded.imports.clone(),
                loaded.manifest_json(),
            );
            let digest = crate::oci::push(&bytes, &config, reference, &registry.options(false))?;
            println!("pushed {reference}@{digest}");
            Ok(())
        }
        RecipeCommand::Pull { reference, output, registry } => {
            let pulled = crate::oci::pull(reference, &registry.options(false))?;
            if let Some(output) = output {
                std::fs::copy(&pulled.component, output).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            }
            println!("pulled {}@{} ({} bytes)", reference.trim_start_matches("oci://"), pulled.manifest_digest, pulled.size);
            Ok(())
        }
        RecipeCommand::Inspect { reference, registry } => {
            let (digest, size, config) = if reference.ends_with(".wasm") && std::path::Path::new(reference).is_file() {
                let bytes = crate::oci::read_component(std::path::Path::new(reference))?;
                let loaded = runtime()?.load(reference, &bytes).map_err(|e| e.to_string())?;
                let config = crate::oci::wasm_config(&bytes, crate::runtime::WORLD, loaded.exports.clone(), loaded.imports.clone(), loaded.manifest_json());
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
            println!("capabilities: {}", serde_json::to_string_pretty(&bo["capabilities"]).unwrap_or_default().replace('\n', "\n              "));
            Ok(())
        }
        RecipeCommand::Login { registry, username, password_stdin, password } => {
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
