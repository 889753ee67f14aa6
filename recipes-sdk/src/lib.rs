//! The Rust SDK for bo recipes. A recipe is a WebAssembly component (built for
//! `wasm32-wasip2`) that bo runs in a sandbox: it sees the buildout directory
//! read-only, its own `parts/<part>` and the outputs it declares read-write, and
//! reaches the outside world only through the host services below, within what it
//! declared and the user granted.
//!
//! Implement [`Recipe`] and export it with [`export_recipe!`]:
//!
//! ```ignore
//! use bo_recipe_sdk::{Capabilities, Manifest, Options, Recipe, export_recipe, log};
//!
//! struct Hello;
//!
//! impl Recipe for Hello {
//!     fn describe() -> Manifest {
//!         Manifest::new("hello", "Writes a greeting into parts/<part>/hello.txt")
//!     }
//!
//!     // Buildout's constructor: may set options other parts can read.
//!     fn init(part: &str, options: &mut Options) -> Result<(), String> {
//!         let parts = bo_recipe_sdk::config_get("buildout", "parts-directory").unwrap_or_default();
//!         options.set("location", format!("{parts}/{part}"));
//!         Ok(())
//!     }
//!
//!     fn install(part: &str, options: &Options) -> Result<Vec<String>, String> {
//!         let location = options.require("location")?;
//!         let greeting = options.get_or("greeting", "hello");
//!         std::fs::create_dir_all(&location).map_err(|e| e.to_string())?;
//!         std::fs::write(format!("{location}/hello.txt"), greeting).map_err(|e| e.to_string())?;
//!         log::info(&format!("{part}: greeted"));
//!         Ok(vec![location])
//!     }
//! }
//!
//! export_recipe!(Hello);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` (or `bo recipe build`);
//! the `.wasm` file is the recipe. `docs/recipes.md` is the author guide.

use std::collections::BTreeMap;

// The generated bindings name this crate by path, from inside it too.
extern crate self as bo_recipe_sdk;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "recipe",
        path: "../wit/recipe",
        pub_export_macro: true,
        export_macro_name: "__export_bindings",
        default_bindings_module: "bo_recipe_sdk::bindings",
        runtime_path: "bo_recipe_sdk::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use bindings::bo::recipe::types::{Capabilities, Level, Manifest, RunOutput};

impl Manifest {
    /// A manifest with one name and no capabilities.
    pub fn new(name: &str, description: &str) -> Manifest {
        Manifest {
            names: vec![name.to_string()],
            description: description.to_string(),
            capabilities: Capabilities {
                writes: vec![],
                outside: vec![],
                hosts: vec![],
                programs: vec![],
                env: vec![],
            },
            has_update: false,
        }
    }

    /// Declares directories inside the buildout the recipe writes: fixed ones
    /// (`bin` is the configured bin-directory), `option:NAME` (the directory of the
    /// file the part's option NAME names) or `option-dir:NAME` (each directory the
    /// option lists). Outside the buildout each needs the user's `outside` grant.
    pub fn writes(mut self, dirs: &[&str]) -> Manifest {
        self.capabilities.writes.extend(dirs.iter().map(|s| s.to_string()));
        self
    }

    /// Declares directories outside the buildout (each needs the user's grant).
    pub fn outside(mut self, dirs: &[&str]) -> Manifest {
        self.capabilities.outside.extend(dirs.iter().map(|s| s.to_string()));
        self
    }

    /// Declares hosts the recipe downloads from (each needs the user's grant).
    pub fn hosts(mut self, hosts: &[&str]) -> Manifest {
        self.capabilities.hosts.extend(hosts.iter().map(|s| s.to_string()));
        self
    }

    /// Declares programs the recipe runs (each needs the user's grant).
    pub fn programs(mut self, programs: &[&str]) -> Manifest {
        self.capabilities.programs.extend(programs.iter().map(|s| s.to_string()));
        self
    }

    /// Declares environment variables the recipe reads (each needs the user's grant).
    pub fn env(mut self, names: &[&str]) -> Manifest {
        self.capabilities.env.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// More classic names this recipe answers to.
    pub fn also_named(mut self, names: &[&str]) -> Manifest {
        self.names.extend(names.iter().map(|s| s.to_string()));
        self
    }
}

/// A part's options, as resolved by bo (substitutions done). The names the
/// recipe reads are reported to bo after each call (Buildout warns about options
/// no recipe read: a typo such as `intepreter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    values: BTreeMap<String, String>,
    read: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Options {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Options {
        Options {
            values: pairs.into_iter().collect(),
            read: Default::default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.read.borrow_mut().insert(name.to_string());
        self.values.get(name).map(String::as_str)
    }

    /// Tells bo which options were read (see the type's documentation).
    #[doc(hidden)]
    pub fn __report_read(&self) {
        let names: Vec<String> = self.read.borrow().iter().cloned().collect();
        bindings::bo::recipe::host::options_read(&names);
    }

    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// The option, or an error naming it.
    pub fn require(&self, name: &str) -> Result<String, String> {
        self.get(name).map(String::from).ok_or_else(|| format!("missing option: {name}"))
    }

    /// `true`/`false` (also yes/no, on/off, 1/0, any case); `default` if unset.
    pub fn get_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v.is_empty() => Ok(default),
            Some(v) if ["true", "yes", "on", "1"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["false", "no", "off", "0"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(format!("option {name}: expected true or false, got {v:?}")),
        }
    }

    /// Non-empty lines, trimmed.
    pub fn get_lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    /// Every option (all count as read).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.read.borrow_mut().extend(self.values.keys().cloned());
        self.values.iter()
    }

    /// Options added or changed since `before` (what `init` reports to bo).
    pub fn changes_since(&self, before: &Options) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter(|(k, v)| before.values.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A recipe. Only `describe` and `install` are required.
pub trait Recipe {
    /// Whether `update` is implemented; if not, bo calls `install` for unchanged
    /// parts, as Buildout does for recipes without an update method.
    const HAS_UPDATE: bool = false;

    /// What the recipe is and which capabilities it needs.
    fn describe() -> Manifest;

    /// Buildout's constructor: runs whenever the part is evaluated; may set options.
    fn init(_part: &str, _options: &mut Options) -> Result<(), String> {
        Ok(())
    }

    /// Installs the part; returns the paths created (removed on uninstall).
    fn install(part: &str, options: &Options) -> Result<Vec<String>, String>;

    /// Updates an unchanged part; returns paths to add to the recorded ones.
    fn update(_part: &str, _options: &Options) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// Runs before bo removes the part's recorded paths.
    fn uninstall(_part: &str, _options: &Options) -> Result<(), String> {
        Ok(())
    }
}

/// The entry a reference named (`project:entry`), if any.
pub fn entry() -> Option<String> {
    std::env::var("BO_RECIPE_ENTRY").ok()
}

#[doc(hidden)]
pub fn __init<R: Recipe>(part: String, options: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
    let before = Options::from_pairs(options);
    let mut after = before.clone();
    let result = R::init(&part, &mut after);
    after.__report_read();
    result?;
    Ok(after.changes_since(&before))
}

#[doc(hidden)]
pub fn __with_options<T>(options: Vec<(String, String)>, call: impl FnOnce(&Options) -> T) -> T {
    let options = Options::from_pairs(options);
    let result = call(&options);
    options.__report_read();
    result
}

#[doc(hidden)]
pub fn __describe<R: Recipe>() -> Manifest {
    let mut manifest = R::describe();
    manifest.has_update = R::HAS_UPDATE;
    manifest
}

/// Exports a [`Recipe`] as the component's `recipe` world.
#[macro_export]
macro_rules! export_recipe {
    ($recipe:ty) => {
        #[doc(hidden)]
        pub struct __BoRecipeExport;
        impl $crate::bindings::Guest for __BoRecipeExport {
            fn describe() -> $crate::Manifest {
                $crate::__describe::<$recipe>()
            }
            fn init(part: String, options: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
                $crate::__init::<$recipe>(part, options)
            }
            fn install(part: String, options: Vec<(String, String)>) -> Result<Vec<String>, String> {
                $crate::__with_options(options, |o| <$recipe as $crate::Recipe>::install(&part, o))
            }
            fn update(part: String, options: Vec<(String, String)>) -> Result<Vec<String>, String> {
                $crate::__with_options(options, |o| <$recipe as $crate::Recipe>::update(&part, o))
            }
            fn uninstall(part: String, options: Vec<(String, String)>) -> Result<(), String> {
                <$recipe as $crate::Recipe>::uninstall(&part, &$crate::Options::from_pairs(options))
            }
        }
        $crate::bindings::__export_bindings!(__BoRecipeExport);
    };
}

/// Lines for the build log (prefixed with the part's name by bo).
pub mod log {
    use super::Level;
    use super::bindings::bo::recipe::host;

    pub fn debug(message: &str) {
        host::log(Level::Debug, message);
    }
    pub fn info(message: &str) {
        host::log(Level::Info, message);
    }
    pub fn warn(message: &str) {
        host::log(Level::Warning, message);
    }
    pub fn error(message: &str) {
        host::log(Level::Error, message);
    }
}

/// An option of an evaluated section (e.g. `config_get("buildout", "bin-directory")`).
pub fn config_get(section: &str, option: &str) -> Option<String> {
    bindings::bo::recipe::host::config_get(section, option)
}

/// Downloads `url` through bo's cache (checking the digests given); returns the
/// path of the file. Needs the host declared and granted.
pub fn download(url: &str, sha256: Option<&str>, md5: Option<&str>) -> Result<String, String> {
    bindings::bo::recipe::host::download(url, sha256, md5)
}

/// Sets a file's permission bits (e.g. `0o755`) in a directory the part may write.
pub fn set_mode(path: &str, mode: u32) -> Result<(), String> {
    bindings::bo::recipe::host::set_mode(path, mode)
}

/// Unpacks an archive (tar, tar.gz, tar.bz2, tar.xz, zip) that [`download`] returned
/// or that lies in the buildout into `destination` (a directory the part may write);
/// with `strip_top_level`, the archive's one top-level directory is dropped. Entries
/// already there are an error unless `replace_existing`. Returns the top-level
/// paths created.
pub fn extract(archive: &str, destination: &str, strip_top_level: bool, replace_existing: bool) -> Result<Vec<String>, String> {
    bindings::bo::recipe::host::extract(archive, destination, strip_top_level, replace_existing)
}

/// Copies a file that [`download`] returned (or one the part may read) to
/// `destination`, in a directory the part may write.
pub fn copy_file(source: &str, destination: &str) -> Result<(), String> {
    bindings::bo::recipe::host::copy_file(source, destination)
}

/// Directories bo created for this call (outermost first) because the part may
/// write there and they did not exist (see `option-dir:` outputs).
pub fn prepared_dirs() -> Vec<String> {
    bindings::bo::recipe::host::prepared_dirs()
}

/// A program run (needs the program declared and granted).
pub struct Run {
    request: bindings::bo::recipe::types::RunRequest,
}

impl Run {
    pub fn new(program: &str) -> Run {
        Run {
            request: bindings::bo::recipe::types::RunRequest {
                program: program.to_string(),
                args: Vec::new(),
                cwd: None,
                env: Vec::new(),
                timeout_ms: None,
            },
        }
    }
    pub fn arg(mut self, arg: impl Into<String>) -> Run {
        self.request.args.push(arg.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Run {
        self.request.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn cwd(mut self, dir: impl Into<String>) -> Run {
        self.request.cwd = Some(dir.into());
        self
    }
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Run {
        self.request.env.push((key.into(), value.into()));
        self
    }
    pub fn timeout_ms(mut self, ms: u64) -> Run {
        self.request.timeout_ms = Some(ms);
        self
    }
    /// Runs the program and waits; `Err` if it could not run (or was denied).
    pub fn output(self) -> Result<RunOutput, String> {
        bindings::bo::recipe::host::run(&self.request)
    }
    /// Runs the program; a non-zero exit is an error carrying its output.
    pub fn status_ok(self) -> Result<RunOutput, String> {
        let program = self.request.program.clone();
        let output = self.output()?;
        if output.status != 0 {
            return Err(format!(
                "{program} exited with status {}:\n{}{}",
                output.status, output.stdout, output.stderr
            ));
        }
        Ok(output)
    }
}

/// Python distributions, resolved and installed by bo.
pub mod python {
    pub use super::bindings::bo::recipe::python::{Distribution, Script, ScriptsRequest};

    /// Resolves and installs requirements with the part's index settings.
    pub fn install(requirements: &[String]) -> Result<Vec<Distribution>, String> {
        super::bindings::bo::recipe::python::install(requirements)
    }

    /// Writes scripts into a directory the part may write.
    pub fn write_scripts(request: &ScriptsRequest) -> Result<Vec<String>, String> {
        super::bindings::bo::recipe::python::write_scripts(request)
    }

    /// Builds `requirement` from source with `build_ext` options and the
    /// variables of the `environment` section (zc.recipe.egg:custom).
    pub fn build_custom(requirement: &str, build_ext: &[(String, String)], environment: Option<&str>) -> Result<Distribution, String> {
        super::bindings::bo::recipe::python::build_custom(requirement, build_ext, environment)
    }

    /// The project in `directory` as a develop egg (zc.recipe.egg:develop).
    pub fn develop(directory: &str, build_ext: &[(String, String)]) -> Result<Distribution, String> {
        super::bindings::bo::recipe::python::develop(directory, build_ext)
    }
}
