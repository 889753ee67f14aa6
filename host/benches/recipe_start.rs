//! Recipe start-up, in process: creating the runtime, loading a precompiled
//! component from the cache (digest memo + mapped precompiled code + link, with
//! the manifest cached beside it), and one sandboxed
//! call (fresh Store and instance + `init`). Prints medians; run with
//! `cargo bench -p bo --bench recipe_start` (bench/run.sh includes it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bo::runtime::grants::{Declared, Layout, PartGrant, UserGrants};
use bo::runtime::{HostServices, Level, Limits, Runtime};

struct Quiet;

impl HostServices for Quiet {
    fn config_get(&self, _: &str, _: &str) -> Option<String> {
        Some("/tmp".into())
    }
    fn download(&self, _: &str, _: Option<&str>, _: Option<&str>, _: bo::runtime::HostCheck) -> Result<std::path::PathBuf, String> {
        Err("no".into())
    }
    fn log(&self, _: &str, _: Level, _: &str) {}
    fn python_install(&self, _: &str, _: &[String]) -> Result<Vec<bo::python::Installed>, String> {
        Err("no".into())
    }
    fn python_executable(&self, _: &str) -> String {
        String::new()
    }
    fn buildout_directory(&self) -> std::path::PathBuf {
        "/tmp".into()
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bundled-recipes/wasm32-wasip2/release");
    let cache = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let wasm_in = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        files
    };
    let mut files: Vec<(&str, std::path::PathBuf)> = wasm_in(&dir).into_iter().map(|f| ("Rust", f)).collect();
    assert!(!files.is_empty(), "build bo first (it builds the recipes)");
    // The prebuilt recipes in other languages, one directory each.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-recipes");
    for (language, dir) in [("Python", "python"), ("JavaScript", "javascript"), ("C", "c")] {
        let mut recipes: Vec<_> = std::fs::read_dir(examples.join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        recipes.sort();
        files.extend(recipes.iter().flat_map(|r| wasm_in(r)).map(|f| (language, f)));
    }
    println!("| recipe | language | size | first load (compile) | runtime setup | warm load (precompiled) | call: instantiate + init |");
    println!("|---|---|---|---|---|---|---|");
    for (language, file) in files {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let start = Instant::now();
        Runtime::new(cache.path().into(), Limits::default())
            .unwrap()
            .load_file(&name, &file)
            .unwrap();
        let compile = start.elapsed();
        let (mut setups, mut loads, mut calls) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..20 {
            let t = Instant::now();
            let runtime = Runtime::new(cache.path().into(), Limits::default()).unwrap();
            setups.push(t.elapsed());
            let t = Instant::now();
            let recipe = runtime.load_file(&name, &file).unwrap();
            loads.push(t.elapsed());
            let layout = Layout {
                directory: scratch.path().into(),
                parts_directory: scratch.path().join("parts"),
                bin_directory: scratch.path().join("bin"),
            };
            let mut grant = PartGrant::new("p", &name, &Declared::default(), &UserGrants::default(), &layout).unwrap();
            grant.write.clear();
            let services: Arc<dyn HostServices> = Arc::new(Quiet);
            let t = Instant::now();
            let _ = runtime.call(&recipe, grant, services, |r, s| r.call_init(s, "p", &Vec::new()));
            calls.push(t.elapsed());
        }
        println!(
            "| {name} | {language} | {} KiB | {:.1} ms | {:.2} ms | {:.2} ms | {:.3} ms |",
            bytes.len() / 1024,
            compile.as_secs_f64() * 1e3,
            median(setups).as_secs_f64() * 1e3,
            median(loads).as_secs_f64() * 1e3,
            median(calls).as_secs_f64() * 1e3
        );
    }
}
