//! Running recipes: one wasmtime Engine, components compiled once and cached
//! precompiled, and a fresh sandboxed Store per recipe call. The sandbox starts from
//! deny-all: a part sees the buildout directory read-only, its own `parts/<part>` and
//! declared outputs read-write, nothing else; CPU time (epochs), memory
//! (a ResourceLimiter) and log volume are capped. See [`crate::trust::grants`] for what a part may
//! use and [`host`] for the services bo offers recipes.

pub mod bundled;
pub mod cache;
mod clock;
pub mod confine;
pub mod host;
mod python_host;
mod sandbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::trust::grants::{self, Declared, PartGrant};

wasmtime::component::bindgen!({
    world: "recipe",
    path: "../wit/recipe",
    imports: { default: trappable },
});

pub use bo::recipe::types::Level;

/// The WIT world recipes implement.
pub const WORLD: &str = "bo:recipe/recipe@0.1.0";

/// How often the epoch ticks; CPU limits are counted in these.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits applied to every recipe call.
#[derive(Debug, Clone)]
pub struct Limits {
    pub wall_time: Duration,
    pub memory_bytes: usize,
    pub log_bytes: usize,
    /// Run granted programs even where the kernel cannot confine them.
    pub allow_unconfined_programs: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(600),
            memory_bytes: 1 << 30,
            log_bytes: 4 << 20,
            allow_unconfined_programs: false,
        }
    }
}

/// A failed recipe call, said in terms of the part and recipe.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("cannot load recipe {recipe}: {message}")]
    Load { recipe: String, message: String },
    #[error("{0}")]
    Denied(#[from] grants::Denial),
    #[error("part {part} (recipe {recipe}) ran longer than its limit of {seconds} s and was stopped")]
    Timeout { part: String, recipe: String, seconds: u64 },
    #[error("part {part} (recipe {recipe}) tried to use more than {mib} MiB of memory and was stopped")]
    Memory { part: String, recipe: String, mib: usize },
    #[error("part {part} (recipe {recipe}) wrote more than {kib} KiB of log output and was stopped")]
    LogFlood { part: String, recipe: String, kib: usize },
    #[error("part {part} (recipe {recipe}) failed: {message}")]
    Failed { part: String, recipe: String, message: String },
    #[error("part {part} (recipe {recipe}) crashed: {message}")]
    Trap { part: String, recipe: String, message: String },
}

/// A component ready to instantiate, with what it declared.
#[derive(Clone)]
pub struct LoadedRecipe {
    pub name: String,
    pub digest: String,
    pub manifest: Manifest,
    /// The component's imports and exports (interface names), for OCI configs.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pre: RecipePre<PartState>,
}

impl LoadedRecipe {
    /// The recipe's manifest as JSON (what OCI configs carry under `bo`).
    pub fn manifest_json(&self) -> serde_json::Value {
        let m = &self.manifest;
        serde_json::json!({
            "world": WORLD,
            "names": m.names,
            "description": m.description,
            "has-update": m.has_update,
            "capabilities": self.declared(),
        })
    }

    pub fn declared(&self) -> Declared {
        let c = &self.manifest.capabilities;
        Declared {
            writes: c.writes.clone(),
            outside: c.outside.clone(),
            hosts: c.hosts.clone(),
            programs: c.programs.clone(),
            env: c.env.clone(),
        }
    }
}

pub use crate::net::HostCheck;

/// Host services shared by every call of one build.
pub trait HostServices: Send + Sync {
    /// An option of an already evaluated section.
    fn config_get(&self, section: &str, option: &str) -> Option<String>;
    /// Fetches `url` (already checked against the grant) into the cache; a redirect
    /// is followed only to a host `host_allowed` accepts.
    fn download(&self, url: &str, sha256: Option<&str>, md5: Option<&str>, host_allowed: HostCheck) -> Result<PathBuf, String>;
    /// Where a part's log lines go.
    fn log(&self, part: &str, level: Level, message: &str);
    /// Resolves and installs Python distributions for `part`.
    fn python_install(&self, part: &str, requirements: &[String]) -> Result<Vec<crate::python::Installed>, String>;
    /// The interpreter `part`'s scripts run with.
    fn python_executable(&self, part: &str) -> Result<String, String>;
    /// The buildout directory.
    fn buildout_directory(&self) -> std::path::PathBuf;
    /// zc.recipe.egg:custom and :develop builds for `part` (see the WIT).
    fn python_build_custom(
        &self,
        _part: &str,
        _requirement: &str,
        _build_ext: &[(String, String)],
        _environment: Option<&str>,
    ) -> Result<crate::python::Installed, String> {
        Err("custom builds are not offered here".into())
    }
    fn python_develop(&self, _part: &str, _directory: &str, _build_ext: &[(String, String)]) -> Result<crate::python::Installed, String> {
        Err("develop builds are not offered here".into())
    }
    /// The options of `part` its recipe read in a call (unused-option warning).
    fn note_options_read(&self, _part: &str, _names: &[String]) {}
}

/// Per-call state: the sandbox and what the part may use.
pub struct PartState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    grant: PartGrant,
    services: Arc<dyn HostServices>,
    log_budget: usize,
    log_flooded: bool,
    /// A denial raised by a host service, reported instead of the recipe's error.
    denial: Option<grants::Denial>,
    wall_time: Duration,
    /// When this call's wall-clock limit ends (sleeps and host services stop there).
    deadline: std::time::Instant,
    /// Whether programs may run where they cannot be confined (the user said so).
    allow_unconfined_programs: bool,
    /// Directories bo created for this call's sandbox (they did not exist before).
    prepared: Vec<PathBuf>,
    /// Files `download` handed out during this call, which `extract` and
    /// `copy-file` may read although they lie in bo's cache.
    downloaded: Vec<PathBuf>,
    /// Handles on the directories the part may write, and on those it may read
    /// (see [`crate::trust::cap`]): host services work through them.
    write_dirs: crate::trust::cap::Dirs,
    read_dirs: crate::trust::cap::Dirs,
}

impl WasiView for PartState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct MemoryLimiter {
    max: usize,
    exceeded: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.exceeded = true;
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The engine, the linker and every component loaded so far.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PartState>,
    cache: cache::ComponentCache,
    loaded: Mutex<HashMap<String, Arc<LoadedRecipe>>>,
    pub limits: Limits,
}

fn start_epoch_ticker(engine: &Engine) {
    static STARTED: OnceLock<()> = OnceLock::new();
    let engine = engine.clone();
    STARTED.get_or_init(move || {
        std::thread::spawn(move || {
            let mut stopped = false;
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
                // Interrupted: push every running recipe past its deadline at once
                // (each then stops at its next epoch check and is undone).
                if interrupted() && !stopped {
                    stopped = true;
                    for _ in 0..10_000_000 {
                        engine.increment_epoch();
                    }
                }
            }
        });
    });
}

impl Runtime {
    pub fn new(cache_dir: PathBuf, limits: Limits) -> anyhow::Result<Runtime> {
        // build.rs precompiles the bundled recipes with the same settings: keep
        // the two in step (the compatibility hash tells if they are not).
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Measured: the pooling allocator made a 20-part no-op slower here (19-23 ms
        // against 17-18 ms), its slots cost more to set up than they save.
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        clock::add_capped_clock(&mut linker)?;
        Recipe::add_to_linker::<PartState, HasSelf<PartState>>(&mut linker, |state| state)?;
        let cache = cache::ComponentCache::new(cache_dir, &engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            loaded: Mutex::new(HashMap::new()),
            limits,
        })
    }

    /// Loads a component (precompiled from the cache when possible) and asks it
    /// what it is. `name` is how the config referred to it.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<LoadedRecipe>, RecipeError> {
        self.load_with(name, &cache::digest(bytes), || Ok(bytes.to_vec()))
    }

    /// Like [`Runtime::load`], for a component file. A warm load neither reads nor
    /// hashes the file: its digest is remembered by path, size and modification
    /// time, the precompiled code is mapped from the cache and the manifest read
    /// from beside it (Python and JavaScript components are 12-18 MB).
    pub fn load_file(&self, name: &str, path: &Path) -> Result<Arc<LoadedRecipe>, RecipeError> {
        let load_error = |message: String| RecipeError::Load {
            recipe: name.to_string(),
            message,
        };
        if let Some((digest, bytes)) = bundled::component(path) {
            return self.load_with(name, digest, || Ok(bytes.to_vec()));
        }
        let digest = self
            .cache
            .file_digest(path)
            .map_err(|e| load_error(format!("cannot read {}: {e}", path.display())))?;
        self.load_with(name, &digest, || {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
    }

    fn load_with(
        &self,
        name: &str,
        digest: &str,
        bytes: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Arc<LoadedRecipe>, RecipeError> {
        let load_error = |message: String| RecipeError::Load {
            recipe: name.to_string(),
            message,
        };
        if let Some(found) = self.loaded.lock().unwrap().get(digest) {
            // Named as this reference names it (another part may call the same
            // component `zc.recipe.egg:custom`).
            if found.name == name {
                return Ok(found.clone());
            }
            return Ok(Arc::new(LoadedRecipe {
                name: name.to_string(),
                ..(**found).clone()
            }));
        }
        let found = self
            .cache
            .precompiled(&self.engine, digest)
            .or_else(|| self.cache.shipped(&self.engine, digest));
        let component: Component = match found {
            Some(component) => component,
            None => {
                let bytes = bytes().map_err(load_error)?;
                if cache::digest(&bytes) != digest {
                    return Err(load_error("the component changed while being read".into()));
                }
                self.cache
                    .compile(&self.engine, name, digest, &bytes)
                    .map_err(|e| load_error(format!("{e:#}")))?
            }
        };
        let pre = self.linker.instantiate_pre(&component).map_err(|e| load_error(format!("{e:#}")))?;
        let pre = RecipePre::new(pre).map_err(|e| load_error(format!("not a bo recipe component: {e:#}")))?;
        let manifest = match self.cache.manifest(digest).and_then(|json| manifest_from_json(&json)) {
            Some(manifest) => manifest,
            None => {
                let mut store = self.store(PartState::describing(&self.limits));
                let manifest = pre
                    .instantiate(&mut store)
                    .and_then(|recipe| recipe.call_describe(&mut store))
                    .map_err(|e| load_error(format!("describe failed: {e:#}")))?;
                self.cache.store_manifest(digest, &manifest_to_json(&manifest));
                manifest
            }
        };
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let loaded = Arc::new(LoadedRecipe {
            name: name.to_string(),
            digest: digest.to_string(),
            manifest,
            imports,
            exports,
            pre,
        });
        self.loaded.lock().unwrap().insert(digest.to_string(), loaded.clone());
        Ok(loaded)
    }

    fn store(&self, state: PartState) -> Store<PartState> {
        let ticks = (state.wall_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(ticks);
        store
    }

    /// Runs `f` on a fresh instance of `recipe`, sandboxed by `grant`.
    pub fn call<T>(
        &self,
        recipe: &LoadedRecipe,
        grant: PartGrant,
        services: Arc<dyn HostServices>,
        f: impl FnOnce(&Recipe, &mut Store<PartState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, RecipeError> {
        let part = grant.part.clone();
        let recipe_name = recipe.name.clone();
        // Checked when the sandbox is built: an earlier part may have planted a link.
        grant.check_no_symlinks()?;
        let stdout = MemoryOutputPipe::new(self.limits.log_bytes);
        let stderr = MemoryOutputPipe::new(self.limits.log_bytes);
        // The classic-recipe runner's recipes use `tempfile`: a scratch directory
        // of this call's own, gone when the call ends.
        let scratch = (!grant.runner_env.is_empty())
            .then(tempfile::TempDir::new)
            .transpose()
            .map_err(|e| RecipeError::Failed {
                part: part.clone(),
                recipe: recipe_name.clone(),
                message: format!("cannot make a scratch directory: {e}"),
            })?;
        let (wasi, prepared) =
            sandbox::sandbox(&grant, scratch.as_ref().map(|d| d.path()), stdout.clone(), stderr.clone()).map_err(|e| {
                RecipeError::Failed {
                    part: part.clone(),
                    recipe: recipe_name.clone(),
                    message: e,
                }
            })?;
        let grant_write = grant.write.clone();
        let grant_read: Vec<PathBuf> = grant.read.iter().chain(&grant.write).cloned().collect();
        let state = PartState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max: self.limits.memory_bytes,
                exceeded: false,
            },
            grant,
            services: services.clone(),
            log_budget: self.limits.log_bytes,
            log_flooded: false,
            denial: None,
            wall_time: self.limits.wall_time,
            deadline: std::time::Instant::now() + self.limits.wall_time,
            allow_unconfined_programs: self.limits.allow_unconfined_programs,
            prepared,
            downloaded: Vec::new(),
            write_dirs: crate::trust::cap::Dirs::open(&grant_write),
            read_dirs: crate::trust::cap::Dirs::open(&grant_read),
        };
        let mut store = self.store(state);
        let deadline = store.data().deadline;
        let result = crate::net::with_deadline(deadline, || {
            recipe.pre.instantiate(&mut store).and_then(|instance| f(&instance, &mut store))
        });
        relay_output(&*services, &part, &stdout.contents(), &stderr.contents());
        let state = store.data_mut();
        if let Some(denial) = state.denial.take() {
            return Err(RecipeError::Denied(denial));
        }
        let (p, r) = (part.clone(), recipe_name.clone());
        // Woken from a capped sleep or a bounded host service past the deadline, a
        // recipe may return before its code meets the epoch check: still a timeout.
        let overran = std::time::Instant::now() > state.deadline;
        if interrupted() {
            return Err(RecipeError::Failed {
                part: p,
                recipe: r,
                message: "interrupted".into(),
            });
        }
        match result {
            Ok(_) if overran => Err(RecipeError::Timeout {
                part: p,
                recipe: r,
                seconds: self.limits.wall_time.as_secs(),
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(RecipeError::Failed {
                part: p,
                recipe: r,
                message,
            }),
            Err(_) if state.log_flooded => Err(RecipeError::LogFlood {
                part: p,
                recipe: r,
                kib: self.limits.log_bytes / 1024,
            }),
            Err(_) if state.limiter.exceeded => Err(RecipeError::Memory {
                part: p,
                recipe: r,
                mib: self.limits.memory_bytes >> 20,
            }),
            Err(e) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) => Err(RecipeError::Timeout {
                part: p,
                recipe: r,
                seconds: self.limits.wall_time.as_secs(),
            }),
            Err(e) => Err(RecipeError::Trap {
                part: p,
                recipe: r,
                message: format!("{e:#}"),
            }),
        }
    }
}

impl PartState {
    /// State for `describe`: no filesystem, no services.
    fn describing(limits: &Limits) -> PartState {
        struct NoServices;
        impl HostServices for NoServices {
            fn config_get(&self, _: &str, _: &str) -> Option<String> {
                None
            }
            fn download(&self, _: &str, _: Option<&str>, _: Option<&str>, _: HostCheck) -> Result<PathBuf, String> {
                Err("no downloads while describing a recipe".into())
            }
            fn log(&self, _: &str, _: Level, _: &str) {}
            fn python_install(&self, _: &str, _: &[String]) -> Result<Vec<crate::python::Installed>, String> {
                Err("no installs while describing a recipe".into())
            }
            fn python_executable(&self, _: &str) -> Result<String, String> {
                Err("no interpreter while describing a recipe".into())
            }
            fn buildout_directory(&self) -> PathBuf {
                PathBuf::new()
            }
        }
        PartState {
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max: limits.memory_bytes,
                exceeded: false,
            },
            grant: PartGrant::default(),
            services: Arc::new(NoServices),
            log_budget: 0,
            log_flooded: false,
            denial: None,
            wall_time: Duration::from_secs(10),
            deadline: std::time::Instant::now() + Duration::from_secs(10),
            allow_unconfined_programs: false,
            prepared: Vec::new(),
            downloaded: Vec::new(),
            write_dirs: crate::trust::cap::Dirs::open(&[]),
            read_dirs: crate::trust::cap::Dirs::open(&[]),
        }
    }
}

fn relay_output(services: &dyn HostServices, part: &str, stdout: &[u8], stderr: &[u8]) {
    for (bytes, level) in [(stdout, Level::Info), (stderr, Level::Warning)] {
        for line in String::from_utf8_lossy(bytes).lines() {
            services.log(part, level, line);
        }
    }
}

/// A manifest as cached beside the precompiled component (what `describe` said).
fn manifest_to_json(m: &Manifest) -> serde_json::Value {
    let c = &m.capabilities;
    serde_json::json!({
        "names": m.names,
        "description": m.description,
        "has-update": m.has_update,
        "capabilities": {
            "writes": c.writes, "outside": c.outside, "hosts": c.hosts, "programs": c.programs, "env": c.env,
        },
    })
}

fn manifest_from_json(v: &serde_json::Value) -> Option<Manifest> {
    let strings = |v: &serde_json::Value| -> Option<Vec<String>> { v.as_array()?.iter().map(|s| s.as_str().map(String::from)).collect() };
    let c = v.get("capabilities")?;
    Some(Manifest {
        names: strings(v.get("names")?)?,
        description: v.get("description")?.as_str()?.to_string(),
        has_update: v.get("has-update")?.as_bool()?,
        capabilities: bo::recipe::types::Capabilities {
            writes: strings(c.get("writes")?)?,
            outside: strings(c.get("outside")?)?,
            hosts: strings(c.get("hosts")?)?,
            programs: strings(c.get("programs")?)?,
            env: strings(c.get("env")?)?,
        },
    })
}

/// Set while a build is being interrupted (Ctrl-C, SIGTERM): running recipes and
/// programs stop, their parts are undone as a failure is, nothing new starts.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Installs bo's SIGINT/SIGTERM handler: the first signal interrupts the build
/// (which then cleans up and exits), a second one exits at once.
pub fn install_interrupt_handler() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(130) };
            }
        }
        // SAFETY: the handler only touches an atomic (and may _exit).
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
    }
}
