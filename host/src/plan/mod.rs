//! The part lifecycle (Buildout's `install` command), in two steps. [`Plan::compute`]
//! decides, without touching the disk: the settings, each part's recipe and its
//! capabilities (granted or missing), what to uninstall and why, what to install or
//! update and why, in which order, with which dependencies. [`Plan::apply`] (in
//! `apply`) then does it, step by step; the state file is rewritten after every
//! step, so a failure leaves it consistent with the disk and the parts installed
//! before it usable. `bo plan` prints a plan; `bo build` computes and applies one.
//!
//! - `build`: what one build works with, the recipe constructor hook.
//! - `apply`: the steps of applying a plan.
//! - `capabilities`: every grant the parts need, at once.
//! - [`installed`]: the state file format.
//! - [`recipes`]: recipe references and the services a build offers recipes.
//! - [`download`]: downloads through the cache.
//! - `jobs`: running parts, in parallel where independent, and recording them.
//! - `develop`: the `[buildout] develop` step; `custom`: zc.recipe.egg's custom builds;
//!   `confined_builds`: how the builds of source distributions are confined.
//! - [`extensions`]: Buildout extensions, run before the parts are evaluated.
//! - `removal`: removing what a part installed.

mod apply;
mod build;
mod capabilities;
pub mod classic;
mod confined_builds;
mod custom;
mod develop;
pub mod download;
pub mod extensions;
pub mod installed;
mod jobs;
mod recipe_log;
pub mod recipes;
mod removal;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::config::{BuildoutSettings, Config, ConfigError, Evaluator};
use crate::runtime::Limits;
use crate::trust::grants::UserGrants;
use build::Build;
use installed::{INSTALLED_PATHS, InstalledState, PartOptions, SIGNATURE};

/// The `.installed.cfg` option listing the develop eggs' `.egg-link` files.
const INSTALLED_DEVELOP_EGGS: &str = "installed_develop_eggs";

/// The lock file, beside `buildout.cfg`.
pub const LOCK_FILE: &str = "bo.lock";

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
    /// What running the configuration's extensions left for the build (`bo
    /// build` runs them first; `bo plan` does not).
    pub extensions: Option<extensions::Ran>,
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

pub(super) fn fail(doing: &[&str], message: impl Into<String>) -> BuildError {
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

/// One part the plan installs or updates.
#[derive(Debug, Clone)]
pub struct PlannedPart {
    pub action: Action,
    /// The recipe reference, as the configuration wrote it, and its digest.
    pub recipe: String,
    pub digest: String,
    /// The parts of this run it depends on (it starts after them).
    pub dependencies: Vec<String>,
}

/// What `bo build` will do, computed without side effects on the disk (recipe
/// constructors run, sandboxed and read-only, as Buildout evaluates sections).
pub struct Plan<'c> {
    config: &'c Config,
    ev: Evaluator<'c>,
    pub settings: BuildoutSettings,
    build: Build,
    options: BuildOptions,
    state: InstalledState,
    /// Installed parts to uninstall, in order, and why.
    pub uninstalls: Vec<(String, String)>,
    /// The parts to install or update, in Buildout's order.
    pub parts: Vec<PlannedPart>,
    /// Each part's options as they will be recorded.
    new_options: IndexMap<String, PartOptions>,
    /// `[buildout] develop`, as evaluated.
    pub develop: String,
    /// Per part, what its recipe declares and what is granted.
    pub capabilities: Vec<String>,
    /// (`PART:KIND=VALUE`, why) for each declared capability not granted.
    pub missing_grants: Vec<(String, String)>,
}

impl<'c> Plan<'c> {
    /// Decides what a build of `config` would do.
    pub fn compute(config: &'c Config, options: &BuildOptions) -> Result<Plan<'c>, BuildError> {
        let session = config.evaluate()?;
        let (mut ev, settings) = (session.evaluator, session.settings);
        let build = build::start(config, options, &settings, &mut ev)?;
        ev.set_recipe_hook(build.hook());
        let state = read_state(&settings)?;
        // Recipes may look any section up (a template's `${ports:http}`), their
        // constructors included.
        ev.evaluate_plain_sections();
        note_extensions(&mut ev, options)?;
        report_unknown_recipes(config, &mut ev, &build, options)?;
        let (install_parts, uninstall_missing) = evaluate_parts(&mut ev, options)?;
        let new_options = recorded_options(&mut ev, &build, &install_parts)?;
        let needed = capabilities::check(&build, &install_parts, &new_options);
        let uninstalls = decide_uninstalls(&state, &new_options, uninstall_missing, &settings.directory);
        let parts = decide_installs(&mut ev, &build, &state, &install_parts, &uninstalls);
        let develop = ev.get("buildout", "develop", None)?.unwrap_or_default();
        Ok(Plan {
            config,
            ev,
            settings,
            build,
            options: options.clone(),
            state,
            uninstalls,
            parts,
            new_options,
            develop,
            capabilities: needed.lines,
            missing_grants: needed.missing,
        })
    }

    /// Every action, in the order they happen: uninstalls, then installs and updates.
    pub fn actions(&self) -> Vec<Action> {
        let uninstalls = self.uninstalls.iter().map(|(part, reason)| Action::Uninstall {
            part: part.clone(),
            reason: reason.clone(),
        });
        uninstalls.chain(self.parts.iter().map(|p| p.action.clone())).collect()
    }

    /// The plan as JSON (`bo plan --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let parts: Vec<serde_json::Value> = self
            .parts
            .iter()
            .map(|p| {
                let (part, action, reason) = match &p.action {
                    Action::Install { part, reason } => (part, "install", reason.as_str()),
                    Action::Update { part } => (part, "update", "unchanged"),
                    Action::Uninstall { part, reason } => (part, "uninstall", reason.as_str()),
                };
                serde_json::json!({
                    "part": part, "action": action, "reason": reason, "recipe": p.recipe,
                    "digest": p.digest, "dependencies": p.dependencies,
                })
            })
            .collect();
        let uninstalls: Vec<serde_json::Value> = self
            .uninstalls
            .iter()
            .map(|(part, reason)| serde_json::json!({"part": part, "reason": reason}))
            .collect();
        let missing: Vec<&str> = self.missing_grants.iter().map(|(g, _)| g.as_str()).collect();
        serde_json::json!({
            "directory": self.settings.directory,
            "uninstall": uninstalls,
            "parts": parts,
            "develop": self.develop.split_whitespace().collect::<Vec<_>>(),
            "capabilities": self.capabilities,
            "missing-grants": missing,
        })
    }
}

/// `bo build`: Buildout's `install`. One build per buildout at a time (as cargo
/// does with its lock): a second one waits, then plans from what the first left.
pub fn build(config: &Config, options: &BuildOptions) -> Result<(), BuildError> {
    // Beside the configuration file the user named (the `directory` option is the
    // configuration's to set, and is checked only later by the trust boundary).
    let here = config.config_file.parent().unwrap_or(Path::new("."));
    let lock_path = here.join(BUILD_LOCK);
    let _lock = crate::fsutil::lock_file(&lock_path, || {
        crate::progress::eprintln(&format!(
            "Blocking: another bo is building {}; waiting for it to finish.",
            here.display()
        ))
    })
    .map_err(|e| fail(&[], format!("cannot lock {}: {e}", lock_path.display())))?;
    match extensions::run(config, options)? {
        Some(extended) => {
            let options = BuildOptions {
                extensions: Some(extended.ran),
                ..options.clone()
            };
            Plan::compute(&extended.config, &options)?.apply()
        }
        None => Plan::compute(config, options)?.apply(),
    }
}

/// The file `bo build` locks in the buildout directory.
const BUILD_LOCK: &str = ".bo-build.lock";

/// `bo plan`: what `bo build` would do, and why.
pub fn plan<'c>(config: &'c Config, options: &BuildOptions) -> Result<Plan<'c>, BuildError> {
    Plan::compute(config, options)
}

const INSTALLING: &str = "Installing.";

fn read_state(settings: &BuildoutSettings) -> Result<InstalledState, BuildError> {
    match &settings.installed {
        Some(path) => InstalledState::read(path).map_err(|e| fail(&[INSTALLING], e.to_string())),
        None => Ok(InstalledState::default()),
    }
}

/// Evaluates the parts: each one's section, the sections it references, and the
/// recipe constructors, in Buildout's order. Returns the parts to install and
/// whether parts no longer configured are to be uninstalled (not with `bo build
/// PART...`).
fn evaluate_parts(ev: &mut Evaluator<'_>, options: &BuildOptions) -> Result<(Vec<String>, bool), BuildError> {
    let configured = ev.doing(INSTALLING.into(), |ev| ev.require("buildout", "parts"))?;
    let configured: Vec<String> = configured.split_whitespace().map(String::from).collect();
    let (requested, uninstall_missing) = if options.only.is_empty() {
        (configured, true)
    } else {
        (options.only.clone(), false)
    };
    ev.doing(INSTALLING.into(), |ev| {
        for part in &requested {
            ev.section(part)?;
            ev.require(part, "recipe")?;
        }
        Ok(())
    })?;
    let install_parts = if options.only.is_empty() { ev.parts.clone() } else { requested };
    Ok((install_parts, uninstall_missing))
}

/// `extensions =` is never ignored: `bo build` runs them first. `bo plan` does
/// not (they check sources out and write files), and says that its plan is of
/// the configuration before them.
fn note_extensions(ev: &mut Evaluator<'_>, options: &BuildOptions) -> Result<(), BuildError> {
    let names = extensions::named(ev)?;
    if !names.is_empty() && options.extensions.is_none() {
        crate::progress::eprintln(&format!(
            "note: bo plan does not run the extension(s) {} (they may check sources out and write files); `bo build` runs them first, and its plan may differ from this one",
            names.join(", ")
        ));
    }
    Ok(())
}

/// Every part whose recipe is neither a component nor a distribution, at once
/// (evaluating parts stops at the first error). Only literal references are
/// looked at here; the rest are found as their parts are evaluated. Classic
/// recipes found here are remembered for the build.
fn report_unknown_recipes(config: &Config, ev: &mut Evaluator<'_>, build: &Build, options: &BuildOptions) -> Result<(), BuildError> {
    let parts: Vec<String> = if options.only.is_empty() {
        ev.get("buildout", "parts", None)?
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    } else {
        options.only.clone()
    };
    ev.refresh_snapshot(&mut build.services.snapshot.lock().unwrap());
    let mut unknown = Vec::new();
    for part in &parts {
        let Some(reference) = config.raw.get(part).and_then(|s| s.get("recipe")).filter(|r| !r.contains('$')) else {
            continue;
        };
        if let Err(message) = build.services.resolve_recipe(part, reference)
            && message.contains(classic::NOT_A_DISTRIBUTION)
        {
            unknown.push(format!("part {part}: {message}"));
        }
    }
    match unknown.len() {
        0 | 1 => Ok(()),
        _ => Err(fail(&[INSTALLING], unknown.join("\n"))),
    }
}

/// Each part's options as `.installed.cfg` will record them (with the recipe's
/// signature).
fn recorded_options(ev: &mut Evaluator<'_>, build: &Build, parts: &[String]) -> Result<IndexMap<String, PartOptions>, BuildError> {
    let mut new_options = IndexMap::new();
    for part in parts {
        let mut opts = ev.options(part)?;
        let recipe = build.recipes.borrow().get(part).cloned();
        let (recipe, binding) = recipe.ok_or_else(|| fail(&[INSTALLING], format!("part {part} has no recipe")))?;
        opts.insert(SIGNATURE.into(), build::signature(&recipe, &binding));
        new_options.insert(part.clone(), opts);
    }
    Ok(new_options)
}

/// The installed parts to uninstall (last installed first), and why: no longer
/// configured, changed, or something they installed is missing.
fn decide_uninstalls(
    state: &InstalledState,
    new_options: &IndexMap<String, PartOptions>,
    uninstall_missing: bool,
    directory: &Path,
) -> Vec<(String, String)> {
    let mut uninstalls = Vec::new();
    for part in state.part_names().iter().rev() {
        let reason = match new_options.get(part) {
            Some(new) => {
                let mut old = state.parts.get(part).cloned().unwrap_or_default();
                let files = old.shift_remove(INSTALLED_PATHS).unwrap_or_default();
                if &old != new {
                    change_reason(&old, new)
                } else {
                    let missing = files
                        .split('\n')
                        .filter(|f| !f.is_empty())
                        .find(|f| !crate::config::abspath(directory, Path::new(f)).exists());
                    match missing {
                        None => continue,
                        Some(f) => format!("{f} is missing"),
                    }
                }
            }
            None if !uninstall_missing => continue,
            None => "no longer configured".to_string(),
        };
        uninstalls.push((part.clone(), reason));
    }
    uninstalls
}

/// What happens to each part to install: an update if it stays installed, else an
/// install (new, or changed).
fn decide_installs(
    ev: &mut Evaluator<'_>,
    build: &Build,
    state: &InstalledState,
    install_parts: &[String],
    uninstalls: &[(String, String)],
) -> Vec<PlannedPart> {
    let installed = state.part_names();
    let stays = |part: &String| installed.contains(part) && !uninstalls.iter().any(|(p, _)| p == part);
    // A custom or develop build (zc.recipe.egg:custom) changes what every later
    // part resolves to: those wait for it, as in Buildout's one-by-one run.
    let mut builds_before: Vec<String> = Vec::new();
    install_parts
        .iter()
        .map(|part| {
            let barrier = build
                .recipes
                .borrow()
                .get(part)
                .is_some_and(|(_, binding)| matches!(binding.entry.as_deref(), Some("custom") | Some("develop")));
            let action = if stays(part) {
                Action::Update { part: part.clone() }
            } else {
                let reason = if state.parts.contains_key(part) { "changed" } else { "new" };
                Action::Install {
                    part: part.clone(),
                    reason: reason.into(),
                }
            };
            let (recipe, digest) = build
                .recipes
                .borrow()
                .get(part)
                .map(|(r, _)| (r.name.clone(), r.digest.clone()))
                .unwrap_or_default();
            let mut dependencies: Vec<String> = ev.dependencies(part).into_iter().filter(|d| install_parts.contains(d)).collect();
            for earlier in &builds_before {
                if !dependencies.contains(earlier) {
                    dependencies.push(earlier.clone());
                }
            }
            if barrier {
                builds_before.push(part.clone());
            }
            PlannedPart {
                action,
                recipe,
                digest,
                dependencies,
            }
        })
        .collect()
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
