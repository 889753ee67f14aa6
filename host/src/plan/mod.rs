//! The part lifecycle (Buildout's `install` command): which parts to build and in
//! which order, what changed since the last run (`.installed.cfg`), and doing it:
//! uninstall what was removed or changed, install what is new or changed, update
//! what is unchanged. The state file is rewritten after every step, so a failure
//! leaves it consistent with the disk and the parts installed before it usable.
//!
//! - [`installed`]: the state file format.
//! - [`recipes`]: recipe references and the services a build offers recipes.
//! - [`download`]: downloads through the cache.
//! - `jobs`: running parts, in parallel where independent, and recording them.
//! - `develop`: the `[buildout] develop` step.

mod capabilities;
mod develop;
pub mod download;
pub mod installed;
mod jobs;
pub mod recipes;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;

use crate::config::{Config, ConfigError, ConfigErrorKind, Evaluator};
use crate::python::lock::Lock;
use crate::runtime::{Limits, LoadedRecipe, RecipeError, Runtime};
use crate::trust::grants::{Layout, PartGrant, UserGrants};
use installed::{INSTALLED_PATHS, InstalledState, PartOptions, SIGNATURE};
use recipes::BuildServices;

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Only these parts (`bo build a b`); others are left as they are.
    pub only: Vec<String>,
    pub grants: UserGrants,
    pub limits: Limits,
    pub cache_dir: PathBuf,
    pub quiet: bool,
    pub lock_mode: recipes::LockMode,
    pub oci: crate::oci::OciOptions,
    /// How many parts may run at once.
    pub jobs: usize,
}

/// A build failure with the `While:` chain that led to it.
#[derive(Debug)]
pub struct BuildError {
    pub doing: Vec<String>,
    pub message: String,
}

impl BuildError {
    pub fn report(&self) -> String {
        let mut out = String::new();
        if !self.doing.is_empty() {
            out.push_str("While:\n");
            for d in &self.doing {
                out.push_str(&format!("  {d}\n"));
            }
        }
        out.push_str(&format!("error: {}", self.message));
        out
    }
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError {
            doing: e.doing.clone(),
            message: e.kind.to_string(),
        }
    }
}

fn fail(doing: &[&str], message: impl Into<String>) -> BuildError {
    BuildError {
        doing: doing.iter().map(|s| s.to_string()).collect(),
        message: message.into(),
    }
}

/// What will happen to a part, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Install { part: String, reason: String },
    Update { part: String },
    Uninstall { part: String, reason: String },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Install { part, reason } => write!(f, "install    {part}  ({reason})"),
            Action::Update { part } => write!(f, "update     {part}  (unchanged)"),
            Action::Uninstall { part, reason } => write!(f, "uninstall  {part}  ({reason})"),
        }
    }
}

/// Each part's recipe and the entry its reference named.
type Recipes = Rc<RefCell<HashMap<String, (Arc<LoadedRecipe>, Option<String>)>>>;

/// The `.installed.cfg` option listing the develop eggs' `.egg-link` files.
const INSTALLED_DEVELOP_EGGS: &str = "installed_develop_eggs";

/// The lock file, beside `buildout.cfg`.
pub const LOCK_FILE: &str = "bo.lock";

struct Build {
    layout: Layout,
    runtime: Arc<Runtime>,
    services: Arc<BuildServices>,
    grants: UserGrants,
    recipes: Recipes,
}

fn options_list(options: &PartOptions) -> Vec<(String, String)> {
    options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Buildout's `__buildout_signature__`: the recipe's project and what identifies
/// its code (here the component's digest, so any change to the recipe reinstalls).
fn signature(recipe: &LoadedRecipe) -> String {
    let hex = recipe.digest.trim_start_matches("sha256:");
    let project = if recipe.name.contains("://") {
        recipe.name.as_str()
    } else {
        recipe.name.split(':').next().unwrap_or(&recipe.name)
    };
    format!("{}-{}", project, &hex[..hex.len().min(16)])
}

impl Build {
    fn load_recipe(&self, reference: &str) -> Result<(Arc<LoadedRecipe>, Option<String>), String> {
        let source = self.services.resolve_recipe(reference)?;
        Ok((
            self.runtime.load_file(reference, &source.path).map_err(|e| e.to_string())?,
            source.entry,
        ))
    }

    fn grant(&self, part: &str, recipe: &LoadedRecipe, entry: Option<String>, options: &PartOptions) -> Result<PartGrant, RecipeError> {
        let user = grants_for(&self.grants, part, recipe);
        let mut grant = PartGrant::new(part, &recipe.name, &recipe.declared(), &user, &self.layout)?.with_option_outputs(options)?;
        grant.entry = entry;
        Ok(grant)
    }

    /// The recipe constructor, run when a part's section is first evaluated.
    fn hook<'c>(&self) -> Box<crate::config::eval::RecipeHook<'c>> {
        let layout = self.layout.clone();
        let runtime = self.runtime.clone();
        let services = self.services.clone();
        let grants = self.grants.clone();
        let recipes = self.recipes.clone();
        Box::new(move |ev: &mut Evaluator<'_>, part: &str| {
            let other = |ev: &Evaluator<'_>, m: String| ev.error(ConfigErrorKind::Other(m));
            let reference = ev.require(part, "recipe")?;
            let source = services
                .resolve_recipe(&reference)
                .map_err(|m| other(ev, format!("part {part}: {m}")))?;
            let recipe = runtime.load_file(&reference, &source.path).map_err(|e| other(ev, e.to_string()))?;
            let options = ev.options(part)?;
            *services.snapshot.lock().unwrap() = ev.snapshot();
            let user = grants_for(&grants, part, &recipe);
            let mut grant = PartGrant::new(part, &recipe.name, &recipe.declared(), &user, &layout).map_err(|e| other(ev, e.to_string()))?;
            // The constructor only looks: it may read the buildout, not write.
            grant.write.clear();
            grant.entry = source.entry.clone();
            let list = options_list(&options);
            let changes = runtime
                .call(&recipe, grant, services.clone(), |r, s| r.call_init(s, part, &list))
                .map_err(|e| other(ev, e.to_string()))?;
            for (key, value) in changes {
                // Recipes return option names; they go into `.installed.cfg`.
                if !installed::is_option_name(&key) {
                    return Err(other(
                        ev,
                        format!("part {part}: the recipe returned the invalid option name {key:?}"),
                    ));
                }
                ev.set(part, &key, value);
            }
            recipes.borrow_mut().insert(part.to_string(), (recipe, source.entry));
            Ok(())
        })
    }
}

/// The user's grants that apply to `part` with `recipe`: a grant bound to another
/// recipe (the configuration changed the part's recipe since) does not, and bo
/// says so once per part.
fn grants_for(grants: &UserGrants, part: &str, recipe: &LoadedRecipe) -> UserGrants {
    let identity = crate::trust::grants::recipe_identity(&recipe.name, &recipe.digest);
    let (applying, dropped) = grants.for_recipe(part, &identity);
    if !dropped.is_empty() {
        static NOTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut noted = NOTED.lock().unwrap();
        if !noted.iter().any(|p| p == part) {
            noted.push(part.to_string());
            let list: Vec<String> = dropped.iter().map(|g| g.to_string()).collect();
            crate::progress::eprintln(&format!(
                "note: part {part} now uses recipe {identity}; the grants you gave it for another recipe do not apply: {}",
                list.join(", ")
            ));
        }
    }
    applying
}

/// Lists the entries of `dirs` (non-recursively), to undo a failed install.
fn list_entries(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
        .collect()
}

/// Removes the paths a part recorded, but only what the part could write: paths
/// in its writable directories (through directory handles, never following a link
/// out), those directories themselves, and the directories bo made inside the
/// buildout to hold them. Anything else in a state file is left, and reported.
fn remove_recorded(paths: &str, directory: &Path, writable: &[PathBuf]) {
    let dirs = crate::trust::cap::Dirs::open(writable);
    let mut ancestors = Vec::new();
    for line in paths.split('\n').filter(|l| !l.is_empty()) {
        let path = crate::config::abspath(directory, Path::new(line));
        let removed = if dirs.covers(&path) && !writable.contains(&path) {
            dirs.remove(&path).map_err(|e| e.to_string())
        } else if writable.contains(&path) {
            crate::trust::cap::remove_entry(&path).map(|_| true).map_err(|e| e.to_string())
        } else if writable.iter().any(|w| w.starts_with(&path))
            && path.starts_with(directory)
            && path != directory
            && crate::trust::hidden_component(directory, &path).is_none()
        {
            // A directory bo made to hold the part's: removed only once empty
            // (it may hold other parts' directories, e.g. `parts` itself).
            ancestors.push(path);
            continue;
        } else {
            Ok(false)
        };
        match removed {
            Ok(true) => {}
            Ok(false) => crate::progress::eprintln(&format!(
                "warning: not removing {line}: it is not in a directory the part could write (the recipe's own files go in parts/ or its declared outputs)"
            )),
            Err(e) => crate::progress::eprintln(&format!("warning: cannot remove {line}: {e}")),
        }
    }
    // From each writable directory below up to the recorded one, each removed only
    // once empty: a directory holding anything else (another part's) stays.
    for ancestor in ancestors {
        for dir in writable.iter().filter(|w| w.starts_with(&ancestor)) {
            for step in dir.ancestors().take_while(|d| d.starts_with(&ancestor)) {
                if crate::trust::cap::remove_empty_dir(step).is_err() && step.exists() {
                    break;
                }
            }
        }
    }
}

/// `bo build`: Buildout's `install`.
pub fn build(config: &Config, options: &BuildOptions) -> Result<(), BuildError> {
    run(config, options, false).map(|_| ())
}

/// `bo plan`: what `bo build` would do, without doing it.
/// Also returns, per part, the capabilities its recipe declares and which are
/// granted.
pub fn plan(config: &Config, options: &BuildOptions) -> Result<(Vec<Action>, Vec<String>), BuildError> {
    run(config, options, true)
}

fn run(config: &Config, options: &BuildOptions, dry_run: bool) -> Result<(Vec<Action>, Vec<String>), BuildError> {
    let mut session = config.evaluate()?;
    let settings = session.settings.clone();
    let runtime = Arc::new(
        Runtime::new(options.cache_dir.clone(), options.limits.clone())
            .map_err(|e| fail(&[], format!("cannot start the recipe runtime: {e:#}")))?,
    );
    let mut grants = options.grants.clone();
    // Per-directory grants follow where the configuration file lives, not the
    // `directory` option, which the (untrusted) file itself could set.
    grants
        .add_from_file(
            &crate::trust::grants::user_grants_file(),
            config
                .config_file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .map_err(|m| fail(&[], m))?;
    // Substituted values: what bo will use (a `${...}` must not hide where they point).
    let mut evaluated_paths = HashMap::new();
    for option in ["download-cache", "extends-cache", "update-versions-file"] {
        let value = session.evaluator.get("buildout", option, None)?;
        evaluated_paths.insert(option, value);
    }
    let evaluated = |option: &str| evaluated_paths.get(option).cloned().flatten();
    crate::trust::settings::check_directories(config, &settings, &grants, &evaluated).map_err(|m| fail(&["Initializing."], m))?;
    crate::progress::init(options.quiet);
    let services = Arc::new(BuildServices {
        grants: grants.clone(),
        develop: Mutex::new(Vec::new()),
        interpreters: crate::trust::settings::Interpreters::new(config, &grants),
        index_hosts: crate::trust::network::IndexHosts::new(config, &grants),
        verbose: settings.verbosity > 0,
        snapshot: Mutex::new(HashMap::new()),
        used_buildout_options: Mutex::new(Vec::new()),
        download_cache: options.cache_dir.join("downloads"),
        offline: settings.offline,
        newest: settings.newest,
        quiet: options.quiet,
        directory: settings.directory.clone(),
        eggs_directory: settings.eggs_directory.clone(),
        lock_mode: options.lock_mode,
        lock: Mutex::new(Lock::read(&settings.directory.join(LOCK_FILE)).map_err(|m| fail(&[], m))?),
        resolved: Mutex::new(Default::default()),
        pulled_recipes: Mutex::new(Default::default()),
        picked: Mutex::new(Default::default()),
        oci: crate::oci::OciOptions {
            offline: settings.offline,
            store: options.cache_dir.join("oci"),
            ..options.oci.clone()
        },
    });
    let build = Build {
        layout: Layout {
            directory: settings.directory.clone(),
            parts_directory: settings.parts_directory.clone(),
            bin_directory: settings.bin_directory.clone(),
            reserved: reserved_places(&settings, options, &evaluated),
        },
        runtime,
        services,
        grants,
        recipes: Rc::new(RefCell::new(HashMap::new())),
    };
    let ev = &mut session.evaluator;
    ev.set_recipe_hook(build.hook());
    let installing = "Installing.";

    if !dry_run {
        for dir in [&settings.bin_directory, &settings.parts_directory, &settings.develop_eggs_directory] {
            if !dir.exists() {
                crate::progress::info(&format!("Creating directory '{}'.", dir.display()));
                std::fs::create_dir_all(dir).map_err(|e| fail(&[installing], format!("cannot create {}: {e}", dir.display())))?;
            }
        }
    }
    let state_path = settings.installed.clone();
    let mut state = match &state_path {
        Some(path) => InstalledState::read(path).map_err(|e| fail(&[installing], e.to_string()))?,
        None => InstalledState::default(),
    };
    let develop = ev.get("buildout", "develop", None)?.unwrap_or_default();
    let mut develop_eggs = String::new();
    if !dry_run {
        *build.services.snapshot.lock().unwrap() = ev.snapshot();
        let tree = crate::trust::extends::ExtendsPolicy::new(&config.config_file, &build.grants);
        let links = develop::prepare(&develop, &settings, &build, &tree).map_err(|m| fail(&[installing], m))?;
        develop_eggs = links.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join("\n");
        // Buildout records the develop eggs in the state's [buildout] section.
        let recorded = state.buildout.get(INSTALLED_DEVELOP_EGGS).cloned().unwrap_or_default();
        if recorded != develop_eggs {
            if develop_eggs.is_empty() {
                state.buildout.shift_remove(INSTALLED_DEVELOP_EGGS);
            } else {
                state.buildout.insert(INSTALLED_DEVELOP_EGGS.into(), develop_eggs.clone());
            }
            if let Some(path) = state_path.as_ref().filter(|_| state.exists) {
                InstalledState::append(path, &[(INSTALLED_DEVELOP_EGGS, &develop_eggs)]).map_err(|e| fail(&[installing], e.to_string()))?;
            }
        }
    }

    // Evaluate the parts: each one's section, the sections it references, and the
    // recipe constructors, in Buildout's order.
    let configured = ev.doing(installing.into(), |ev| ev.require("buildout", "parts"))?;
    let configured: Vec<String> = configured.split_whitespace().map(String::from).collect();
    let (requested, uninstall_missing) = if options.only.is_empty() {
        (configured, true)
    } else {
        (options.only.clone(), false)
    };
    ev.doing(installing.into(), |ev| {
        for part in &requested {
            ev.section(part)?;
            ev.require(part, "recipe")?;
        }
        Ok(())
    })?;
    let install_parts = if options.only.is_empty() { ev.parts.clone() } else { requested };

    let mut new_options: IndexMap<String, PartOptions> = IndexMap::new();
    for part in &install_parts {
        let mut opts = ev.options(part)?;
        let recipe = build.recipes.borrow().get(part).map(|(r, _)| r.clone());
        let recipe = recipe.ok_or_else(|| fail(&[installing], format!("part {part} has no recipe")))?;
        opts.insert(SIGNATURE.into(), signature(&recipe));
        new_options.insert(part.clone(), opts);
    }

    // Every grant the parts need, at once, before anything runs.
    let needed = capabilities::check(&build, &install_parts, &new_options);
    if !dry_run && !needed.missing.is_empty() {
        return Err(fail(&[installing], capabilities::refusal(&needed.missing)));
    }
    let mut actions = Vec::new();
    let mut installed_parts = state.part_names();
    for part in installed_parts.clone().iter().rev() {
        let reason = match new_options.get(part) {
            Some(new) => {
                let mut old = state.parts.get(part).cloned().unwrap_or_default();
                let files = old.shift_remove(INSTALLED_PATHS).unwrap_or_default();
                if &old == new {
                    let missing = files
                        .split('\n')
                        .filter(|f| !f.is_empty())
                        .find(|f| !crate::config::abspath(&settings.directory, Path::new(f)).exists());
                    match missing {
                        None => continue,
                        Some(f) => format!("{f} is missing"),
                    }
                } else {
                    change_reason(&old, new)
                }
            }
            None if !uninstall_missing => continue,
            None => "no longer configured".to_string(),
        };
        actions.push(Action::Uninstall {
            part: part.clone(),
            reason,
        });
        if dry_run {
            installed_parts.retain(|p| p != part);
            continue;
        }
        let doing = format!("Uninstalling {part}.");
        crate::progress::info(&doing);
        let old = state.parts.get(part).cloned().unwrap_or_default();
        let reference = old.get("recipe").cloned().unwrap_or_default();
        let (recipe, entry) = build.load_recipe(&reference).map_err(|m| fail(&[installing, &doing], m))?;
        let grant = build
            .grant(part, &recipe, entry, &old)
            .map_err(|e| fail(&[installing, &doing], e.to_string()))?;
        let writable = grant.write.clone();
        crate::progress::info("Running uninstall recipe.");
        *build.services.snapshot.lock().unwrap() = ev.snapshot();
        let list = options_list(&old);
        build
            .runtime
            .call(&recipe, grant, build.services.clone(), |r, s| r.call_uninstall(s, part, &list))
            .map_err(|e| fail(&[installing, &doing], e.to_string()))?;
        remove_recorded(
            old.get(INSTALLED_PATHS).map(String::as_str).unwrap_or(""),
            &settings.directory,
            &writable,
        );
        installed_parts.retain(|p| p != part);
        state.parts.shift_remove(part);
        state.buildout.insert("parts".into(), installed_parts.join(" "));
        if let Some(path) = state_path.as_ref().filter(|_| state.exists) {
            InstalledState::append(path, &[("parts", &installed_parts.join(" "))]).map_err(|e| fail(&[installing], e.to_string()))?;
        }
    }

    warn_unused_buildout_options(ev, &build.services);

    for part in &install_parts {
        actions.push(if installed_parts.contains(part) {
            Action::Update { part: part.clone() }
        } else {
            let reason = if state.parts.contains_key(part) { "changed" } else { "new" };
            Action::Install {
                part: part.clone(),
                reason: reason.into(),
            }
        });
    }
    if !dry_run {
        *build.services.snapshot.lock().unwrap() = ev.snapshot();
        let mut jobs = Vec::new();
        for part in &install_parts {
            let (recipe, entry) = build.recipes.borrow()[part].clone();
            let grant = build
                .grant(part, &recipe, entry, &new_options[part])
                .map_err(|e| fail(&[installing], e.to_string()))?;
            let dependencies = ev.dependencies(part).into_iter().filter(|d| install_parts.contains(d)).collect();
            jobs.push(jobs::Job {
                part: part.clone(),
                update: installed_parts.contains(part),
                recipe,
                grant,
                dependencies,
            });
        }
        let mut ctx = jobs::Finish {
            settings: &settings,
            state: &mut state,
            state_path: &state_path,
            installed_parts: &mut installed_parts,
            new_options: &new_options,
            install_order: &install_parts,
        };
        jobs::run_jobs(&build, jobs, options.jobs.max(1), &mut ctx)?;
    }

    if !dry_run && options.lock_mode == recipes::LockMode::Update {
        let mut lock = build.services.lock.lock().unwrap().clone();
        let before = lock.clone();
        lock.parts.retain(|name, _| installed_parts.contains(name));
        lock.parts.extend(build.services.resolved.lock().unwrap().clone());
        lock.recipes = build.services.pulled_recipes.lock().unwrap().clone();
        if lock != before {
            lock.write(&settings.directory.join(LOCK_FILE)).map_err(|m| fail(&[], m))?;
        }
    }

    let picked = build.services.picked.lock().unwrap().clone();
    if !dry_run && !picked.is_empty() {
        let lines = recipes::format_picked_versions(&picked);
        if settings.show_picked_versions {
            crate::progress::println(&format!(
                "Versions had to be automatically picked.\nThe following part definition lists the versions picked:"
            ));
            for line in &lines {
                crate::progress::println(line);
            }
        }
        let versions_file = ev.get("buildout", "update-versions-file", None)?.unwrap_or_default();
        if !versions_file.trim().is_empty() {
            let path = settings.directory.join(versions_file.trim());
            let mut text = String::new();
            if path.exists() {
                text.push_str(&format!(
                    "\n# Added by bo at {}\n",
                    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                ));
                text.push_str(&lines[1..].join("\n"));
            } else {
                text.push_str(&lines.join("\n"));
            }
            text.push('\n');
            use std::io::Write;
            let mut open = std::fs::OpenOptions::new();
            open.create(true).append(true);
            // Never through a link the checkout planted (`versions.cfg -> ~/.bashrc`).
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW);
            open.open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| fail(&[], format!("cannot update {}: {e}", path.display())))?;
            crate::progress::println(&format!("Picked versions have been written to {}", path.display()));
        }
    }

    if !dry_run && installed_parts.is_empty() && develop_eggs.is_empty() && state.exists {
        if let Some(path) = &state_path {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok((actions, needed.lines))
}

/// Where bo keeps its own things for this build, which no recipe may write.
fn reserved_places(
    settings: &crate::config::BuildoutSettings,
    options: &BuildOptions,
    evaluated: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, PathBuf)> {
    let mut places = vec![
        ("eggs directory".to_string(), settings.eggs_directory.clone()),
        ("develop-eggs directory".to_string(), settings.develop_eggs_directory.clone()),
        ("cache".to_string(), options.cache_dir.clone()),
    ];
    for option in ["download-cache", "extends-cache"] {
        if let Some(value) = evaluated(option).filter(|v| !v.trim().is_empty()) {
            places.push((
                option.replace('-', " "),
                crate::config::abspath(&settings.directory, Path::new(value.trim())),
            ));
        }
    }
    places
}

fn change_reason(old: &PartOptions, new: &PartOptions) -> String {
    for (key, value) in new {
        match old.get(key) {
            None => return format!("option {key} added"),
            Some(v) if v != value && key == SIGNATURE => return "recipe changed".into(),
            Some(v) if v != value => return format!("option {key} changed"),
            _ => {}
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            return format!("option {key} removed");
        }
    }
    "changed".into()
}

fn warn_unused_buildout_options(ev: &mut Evaluator<'_>, services: &BuildServices) {
    for option in services.used_buildout_options.lock().unwrap().iter() {
        ev.mark_used("buildout", option);
    }
    let unused = ev.unused_options("buildout");
    if !unused.is_empty() {
        let list: Vec<String> = unused.iter().map(|o| format!("'{o}'")).collect();
        crate::progress::println(&format!(
            "Section `buildout` contains unused option(s): {}.\nThis may be an indication for either a typo in the option's name or a bug in the used recipe.",
            list.join(", ")
        ));
    }
}
