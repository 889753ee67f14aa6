//! Buildout extensions (`[buildout] extensions = mr.developer`): each named
//! distribution is resolved for the classic-recipe runner (pure Python, locked in
//! `bo.lock` as `NAME:extension`), and each of its `zc.buildout.extension` entry
//! points runs in the runner, sandboxed, on the configuration as Buildout shows it
//! to extensions (every section, on demand). What an extension changes (options
//! it sets, sections it adds, raw values it edits) is applied to the
//! configuration before any part is evaluated, as in Buildout.
//!
//! An extension declares nothing: it runs as the pseudo-part named after it
//! (`mr.developer`), with what the user granted that name:
//! `--grant mr.developer:write=src`, `...:program=git`, `...:host=github.com`. Its
//! sandbox has no part directory and no `bin/`. The buildout directory stays
//! read-only: a file there that the extension writes (`.mr.developer.cfg`) is
//! written by bo, only if granted by name (`--grant mr.developer:write=.mr.developer.cfg`).

use base64::Engine as _;
use indexmap::IndexMap;
use std::path::Path;

use super::build::{self, Build};
use super::classic::{self, ClassicRecipe};
use super::{BuildError, BuildOptions, fail};
use crate::config::{Config, Evaluator};
use crate::python::lock::LockedPart;
use crate::trust::grants::{Declared, GrantKind, PartGrant};

const LOADING: &str = "Loading extensions.";

/// The configuration with the extensions' changes, and what the build that
/// follows keeps of their run.
pub struct Extended {
    pub config: Config,
    pub ran: Ran,
}

/// What the build keeps of the extensions' run.
#[derive(Debug, Clone, Default)]
pub struct Ran {
    /// What resolving them locked (written to `bo.lock` with the parts').
    pub locks: IndexMap<String, LockedPart>,
    /// `[buildout]` options they read or set (never "unused").
    pub used_buildout_options: Vec<String>,
}

/// The extensions `[buildout] extensions` names (empty if none).
pub fn named(ev: &mut Evaluator<'_>) -> Result<Vec<String>, BuildError> {
    let value = ev.get("buildout", "extensions", None)?.unwrap_or_default();
    Ok(value.split_whitespace().map(String::from).collect())
}

/// Runs the configuration's extensions; `None` if it names none.
pub fn run(config: &Config, options: &BuildOptions) -> Result<Option<Extended>, BuildError> {
    let session = config.evaluate()?;
    let (mut ev, settings) = (session.evaluator, session.settings);
    let names = named(&mut ev)?;
    if names.is_empty() {
        return Ok(None);
    }
    // An extension runs as the pseudo-part named after it, with the grants of
    // that name: it may not take the name of a section (`buildout`, a part),
    // whose grants are for bo or for that part.
    for name in &names {
        let project = classic::project_of(name);
        if project == "buildout" || config.raw.keys().any(|s| s == project) {
            return Err(fail(
                &[LOADING],
                format!(
                    "extension {name}: its name is that of a section of this configuration, whose grants it would get; bo does not run it"
                ),
            ));
        }
    }
    let build = build::start(config, options, &settings, &mut ev)?;
    ev.evaluate_plain_sections();
    ev.refresh_snapshot(&mut build.services.snapshot.lock().unwrap());
    let mut extended = config.clone();
    for name in &names {
        let changes = run_one(&build, name).map_err(|m| fail(&[LOADING], format!("extension {name}: {m}")))?;
        apply(&mut extended, &build, name, &names, changes).map_err(|m| fail(&[LOADING], format!("extension {name}: {m}")))?;
    }
    let services = &build.services;
    let ran = Ran {
        locks: services.resolved.lock().unwrap().clone().into_iter().collect(),
        used_buildout_options: services.used_buildout_options.lock().unwrap().clone(),
    };
    Ok(Some(Extended { config: extended, ran }))
}

/// Resolves extension `name` and runs its entry points; returns their changes.
fn run_one(build: &Build, name: &str) -> Result<Vec<(String, String)>, String> {
    let services = &build.services;
    let project = classic::project_of(name).to_string();
    let mut settings = services.install_settings("buildout")?;
    settings.fixed_target = Some(classic::runner_target());
    settings.provided = classic::PROVIDED.iter().map(|s| s.to_string()).collect();
    settings.part = format!("{project}:extension");
    let distributions = services.install_locked(&settings.part.clone(), &[name.to_string()], &settings)?;
    let wanted = crate::python::metadata::normalize(&project);
    let dist = distributions
        .iter()
        .find(|d| crate::python::metadata::normalize(&d.name) == wanted)
        .ok_or_else(|| format!("{project} was resolved but is not in its own working set"))?;
    let entries = classic::entry_points(&dist.location, "zc.buildout.extension");
    if entries.is_empty() {
        return Err(format!(
            "{} {} is not a Buildout extension: it has no zc.buildout.extension entry points",
            dist.name, dist.version
        ));
    }
    let source =
        super::recipes::resolve(classic::RUNNER, &services.directory).map_err(|e| format!("bo's classic-recipe runner is missing: {e}"))?;
    let runner = build.runtime.load_file(&project, &source.path).map_err(|e| e.to_string())?;
    let mut changes = Vec::new();
    for (entry, target) in entries {
        let recipe = ClassicRecipe {
            project: project.clone(),
            entry,
            distributions: distributions.clone(),
            target,
            uninstall: None,
        };
        let grant = grant(build, &project, &recipe).map_err(|e| e.to_string())?;
        let granted = granted_list(build, &project);
        let found = build
            .runtime
            .call(&runner, grant, services.clone(), |r, s| r.call_init(s, &project, &Vec::new()))
            .map_err(|e| match e {
                crate::runtime::RecipeError::Failed { message, .. } => format!(
                    "{message}\nbo: the extension runs with what you granted {project} ({granted}); grant more with `--grant {project}:KIND=VALUE` (write=DIR or write=FILE of the buildout directory, program=NAME, host=HOST, outside=DIR, env=NAME)"
                ),
                other => other.to_string(),
            })?;
        changes.extend(found);
    }
    Ok(changes)
}

/// What the user granted the extension's name, for its error messages.
fn granted_list(build: &Build, project: &str) -> String {
    let kinds = [
        GrantKind::Write,
        GrantKind::Program,
        GrantKind::Host,
        GrantKind::Outside,
        GrantKind::Env,
    ];
    let list: Vec<String> = kinds
        .iter()
        .flat_map(|k| {
            build
                .grants
                .values(project, *k)
                .into_iter()
                .map(move |v| format!("{}={v}", k.name()))
        })
        .collect();
    if list.is_empty() { "nothing".into() } else { list.join(", ") }
}

/// Names granted as `write` that are files of the buildout directory, not
/// directories: a bare name that is a file there, or a hidden one (bo never
/// grants hidden directories).
fn root_files(values: &[String], directory: &Path) -> Vec<String> {
    values
        .iter()
        .filter(|v| !v.contains('/') && (v.starts_with('.') || directory.join(v).is_file()))
        .filter(|v| !matches!(v.as_str(), "." | ".."))
        .cloned()
        .collect()
}

/// What the extension may do: what the user granted its name (bound to the
/// extension), its distributions read-only, no part directory.
fn grant(build: &Build, project: &str, recipe: &ClassicRecipe) -> Result<PartGrant, crate::trust::grants::Denial> {
    let user = build::grants_for(&build.grants, project, &recipe.identity());
    let writes = user.values(project, GrantKind::Write);
    let files = root_files(&writes, &build.layout.directory);
    let declared = Declared {
        writes: writes.into_iter().filter(|w| !files.contains(w)).collect(),
        outside: user.values(project, GrantKind::Outside),
        hosts: user.values(project, GrantKind::Host),
        programs: user.values(project, GrantKind::Program),
        env: user.values(project, GrantKind::Env),
    };
    let mut grant = PartGrant::new(project, project, &declared, &user, &build.layout)?;
    let own = build.layout.parts_directory.join(project);
    grant.write.retain(|w| w != &own);
    grant.read.extend(recipe.locations());
    let mut env = recipe.environment(&build.services.snapshot.lock().unwrap());
    for (name, _) in env.iter_mut() {
        if name == "BO_CLASSIC_ENTRY" {
            *name = "BO_CLASSIC_EXTENSION".into();
        }
    }
    env.push(("BO_CLASSIC_ROOT_FILES".into(), serde_json::json!(files).to_string()));
    grant.runner_env = env;
    grant.declares_grants = true;
    Ok(grant)
}

/// Applies an extension's changes to `config`: assigned options are final
/// values (kept from substitution, `$` escaped), added sections and edited raw
/// values are substituted as the configuration's own, files are written.
fn apply(config: &mut Config, build: &Build, project: &str, extensions: &[String], changes: Vec<(String, String)>) -> Result<(), String> {
    for (key, value) in changes {
        let (kind, section, option): (String, String, String) =
            serde_json::from_str(&key).map_err(|_| format!("the runner returned an invalid change {key:?}"))?;
        match kind.as_str() {
            "file" => {
                let config_file = config.config_file.file_name().map(|n| n.to_string_lossy().into_owned());
                write_root_file(build, config_file.as_deref(), project, &option, &value)?
            }
            "raw" | "final" => {
                if !crate::config::parser::is_section_name(&section) || !super::installed::is_option_name(&option) {
                    return Err(format!("the extension set an invalid option {section}:{option}"));
                }
                // Nor may it make a section named after an extension (itself or
                // another): that part would run with the extension's grants.
                if extensions.iter().any(|e| classic::project_of(e) == section) {
                    return Err(format!(
                        "the extension set {section}:{option}, a section named after the extension {section}, whose grants it would get"
                    ));
                }
                if section == "buildout" {
                    build.services.used_buildout_options.lock().unwrap().push(option.clone());
                }
                let value = if kind == "final" { value.replace('$', "$$") } else { value };
                // Recorded as the extension's: the trust boundary treats what it
                // set as the configuration's own, never as the user's (an extension
                // that sets `installed`, `directory` or `index` is refused as a
                // configuration that did would be).
                let origin = crate::config::layers::Origin::Extension(project.to_string());
                config
                    .annotated
                    .entry(section.clone())
                    .or_default()
                    .insert(option.clone(), crate::config::layers::Annotated::new(value.clone(), origin));
                config.raw.entry(section).or_default().insert(option, value);
            }
            other => return Err(format!("the runner returned an unknown change kind {other:?}")),
        }
    }
    Ok(())
}

/// Writes a file of the buildout directory for the extension: only one the user
/// granted by name, never one of bo's own or the configuration's.
fn write_root_file(build: &Build, config_file: Option<&str>, project: &str, name: &str, content: &str) -> Result<(), String> {
    let directory = &build.layout.directory;
    let granted = root_files(&build.grants.values(project, GrantKind::Write), directory);
    if !granted.iter().any(|g| g == name) {
        return Err(format!(
            "it wrote {name} in the buildout directory; grant it with `--grant {project}:write={name}`"
        ));
    }
    let reserved = [".installed.cfg", super::LOCK_FILE, super::BUILD_LOCK];
    if reserved.contains(&name) || name.ends_with(".cfg") && !name.starts_with('.') || Some(name) == config_file {
        return Err(format!("it may not write {name} (bo's or the configuration's)"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|_| format!("the runner returned {name} badly encoded"))?;
    crate::fsutil::write_atomically(&directory.join(name), &bytes)
        .map_err(|e| format!("cannot write {}: {e}", directory.join(name).display()))
}
