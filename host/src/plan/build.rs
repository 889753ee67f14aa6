//! What one build works with ([`Build`]): the recipe runtime, the services recipes
//! call, the user's grants (checked by the trust boundary before anything else),
//! and the recipe constructor that runs when a part's section is evaluated.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use super::installed::{self, PartOptions};
use super::recipes::{Binding, BuildServices};
use super::{BuildError, BuildOptions, LOCK_FILE, fail};
use crate::config::{BuildoutSettings, Config, ConfigErrorKind, Evaluator};
use crate::python::lock::Lock;
use crate::runtime::{LoadedRecipe, RecipeError, Runtime};
use crate::trust::grants::{Layout, PartGrant, UserGrants};

/// Starts a build: the user's grants (command line and grants file), the trust
/// boundary's checks of the settings, the runtime and the services.
pub(super) fn start(
    config: &Config,
    options: &BuildOptions,
    settings: &BuildoutSettings,
    ev: &mut Evaluator<'_>,
) -> Result<Build, BuildError> {
    crate::python::sdist::set_confiner(Box::new(super::confined_builds::ConfinedBuilds {
        allow_unconfined: options.limits.allow_unconfined_programs,
    }));
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
        let value = ev.get("buildout", option, None)?;
        evaluated_paths.insert(option, value);
    }
    let evaluated = |option: &str| evaluated_paths.get(option).cloned().flatten();
    crate::trust::settings::check_directories(config, settings, &grants, &evaluated).map_err(|m| fail(&["Initializing."], m))?;
    crate::progress::init(options.quiet);
    crate::progress::set_verbose(settings.verbosity > 0);
    let services = Arc::new(services(config, options, settings, &grants)?);
    Ok(Build {
        layout: Layout {
            directory: settings.directory.clone(),
            parts_directory: settings.parts_directory.clone(),
            bin_directory: settings.bin_directory.clone(),
            reserved: reserved_places(settings, options, &evaluated),
        },
        runtime,
        services,
        grants,
        recipes: Rc::new(RefCell::new(HashMap::new())),
    })
}

fn services(
    config: &Config,
    options: &BuildOptions,
    settings: &BuildoutSettings,
    grants: &UserGrants,
) -> Result<BuildServices, BuildError> {
    Ok(BuildServices {
        grants: grants.clone(),
        develop: Mutex::new(Vec::new()),
        interpreters: crate::trust::settings::Interpreters::new(config, grants),
        index_hosts: crate::trust::network::IndexHosts::new(config, grants),
        verbose: settings.verbosity > 0,
        classic: Mutex::new(HashMap::new()),
        snapshot: Mutex::new(HashMap::new()),
        options_read: Mutex::new(HashMap::new()),
        used_buildout_options: Mutex::new(options.extensions.iter().flat_map(|r| r.used_buildout_options.clone()).collect()),
        download_cache: options.cache_dir.join("downloads"),
        offline: settings.offline,
        newest: settings.newest,
        quiet: options.quiet,
        directory: settings.directory.clone(),
        eggs_directory: settings.eggs_directory.clone(),
        lock_mode: options.lock_mode,
        lock: Mutex::new(Lock::read(&settings.directory.join(LOCK_FILE)).map_err(|m| fail(&[], m))?),
        resolved: Mutex::new(options.extensions.iter().flat_map(|r| r.locks.clone()).collect()),
        pulled_recipes: Mutex::new(Default::default()),
        picked: Mutex::new(Default::default()),
        oci: crate::oci::OciOptions {
            offline: settings.offline,
            store: options.cache_dir.join("oci"),
            ..options.oci.clone()
        },
    })
}

/// Each part's recipe and how it is bound (entry, classic recipe).
type Recipes = Rc<RefCell<HashMap<String, (Arc<LoadedRecipe>, Binding)>>>;

/// What one build works with: where things go, the recipe runtime, the services
/// recipes call, the user's grants, and each part's loaded recipe.
pub(super) struct Build {
    pub(super) layout: Layout,
    pub(super) runtime: Arc<Runtime>,
    pub(super) services: Arc<BuildServices>,
    pub(super) grants: UserGrants,
    pub(super) recipes: Recipes,
}

pub(super) fn options_list(options: &PartOptions) -> Vec<(String, String)> {
    options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Buildout's `__buildout_signature__`: the recipe's project and what identifies
/// its code (here the component's digest, so any change to the recipe reinstalls).
pub(super) fn signature(recipe: &LoadedRecipe, binding: &Binding) -> String {
    if let Some(classic) = &binding.classic {
        return classic.signature(&recipe.digest);
    }
    let hex = recipe.digest.trim_start_matches("sha256:");
    let project = if recipe.name.contains("://") {
        recipe.name.as_str()
    } else {
        recipe.name.split(':').next().unwrap_or(&recipe.name)
    };
    format!("{}-{}", project, &hex[..hex.len().min(16)])
}

impl Build {
    pub(super) fn load_recipe(&self, part: &str, reference: &str) -> Result<(Arc<LoadedRecipe>, Binding), String> {
        let source = self.services.resolve_recipe(part, reference)?;
        let recipe = self.runtime.load_file(reference, &source.path).map_err(|e| e.to_string())?;
        let binding = Binding::from(&source);
        check_entry(&recipe, &binding)?;
        Ok((recipe, binding))
    }

    pub(super) fn grant(
        &self,
        part: &str,
        recipe: &LoadedRecipe,
        binding: Binding,
        options: &PartOptions,
    ) -> Result<PartGrant, RecipeError> {
        let grant = part_grant(&self.grants, &self.layout, part, recipe, &binding, &self.services)?;
        Ok(grant.with_option_outputs(options)?)
    }

    /// The recipe constructor, run when a part's section is first evaluated.
    pub(super) fn hook<'c>(&self) -> Box<crate::config::eval::RecipeHook<'c>> {
        let layout = self.layout.clone();
        let runtime = self.runtime.clone();
        let services = self.services.clone();
        let grants = self.grants.clone();
        let recipes = self.recipes.clone();
        Box::new(move |ev: &mut Evaluator<'_>, part: &str| {
            let other = |ev: &Evaluator<'_>, m: String| ev.error(ConfigErrorKind::Other(m));
            let reference = ev.require(part, "recipe")?;
            // A classic recipe is resolved with the buildout's index and [versions]:
            // the snapshot must hold them first.
            ev.refresh_snapshot(&mut services.snapshot.lock().unwrap());
            let source = services
                .resolve_recipe(part, &reference)
                .map_err(|m| other(ev, format!("part {part}: {m}")))?;
            let recipe = runtime.load_file(&reference, &source.path).map_err(|e| other(ev, e.to_string()))?;
            check_entry(&recipe, &Binding::from(&source)).map_err(|m| other(ev, format!("part {part}: {m}")))?;
            let options = ev.options(part)?;
            ev.refresh_snapshot(&mut services.snapshot.lock().unwrap());
            let binding = Binding::from(&source);
            let mut grant = part_grant(&grants, &layout, part, &recipe, &binding, &services).map_err(|e| other(ev, e.to_string()))?;
            // The constructor only looks: it may read the buildout, not write.
            grant.write.clear();
            let list = options_list(&options);
            let changes = runtime
                .call(&recipe, grant, services.clone(), |r, s| r.call_init(s, part, &list))
                .map_err(|e| other(ev, e.to_string()))?;
            for (key, value) in changes {
                // Recipes return option names; they go into `.installed.cfg`.
                // Nor may it rename its own recipe or bo's bookkeeping (its uninstall would
                // then run another recipe with this part's grants).
                if key == "recipe" || key.starts_with("__buildout") {
                    return Err(other(ev, format!("part {part}: the recipe may not set the option {key:?}")));
                }
                if !installed::is_option_name(&key) {
                    return Err(other(
                        ev,
                        format!("part {part}: the recipe returned the invalid option name {key:?}"),
                    ));
                }
                // Set by its constructor: used, as Buildout counts `options[k] = v`.
                if let Some(read) = services.options_read.lock().unwrap().get_mut(part) {
                    read.insert(key.clone());
                }
                ev.set(part, &key, value);
            }
            recipes.borrow_mut().insert(part.to_string(), (recipe, binding));
            Ok(())
        })
    }
}

/// A component serves the entries its manifest names (`zc.recipe.egg:eggs`);
/// another one is an error, as an unknown entry point is in Buildout, rather
/// than the default recipe run under another name.
fn check_entry(recipe: &LoadedRecipe, binding: &Binding) -> Result<(), String> {
    let Some(entry) = binding.entry.as_deref().filter(|_| binding.classic.is_none()) else {
        return Ok(());
    };
    let entries: Vec<&str> = recipe
        .manifest
        .names
        .iter()
        .filter_map(|n| n.split_once(':').map(|(_, e)| e))
        .collect();
    if entries.contains(&entry) {
        return Ok(());
    }
    let project = recipe.manifest.names.first().map(String::as_str).unwrap_or(&recipe.name);
    let mut known = vec!["default"];
    known.extend(entries.iter().filter(|e| **e != "default"));
    Err(format!(
        "recipe {project} has no entry point {entry:?} (it has: {})",
        known.join(", ")
    ))
}

/// What `part` may do with `recipe` (declared AND granted): a component declares
/// its needs; a classic recipe, run by the runner, is taken to declare what the
/// user granted the part, and reads its own distributions. Option outputs are
/// the caller's to add.
fn part_grant(
    grants: &UserGrants,
    layout: &Layout,
    part: &str,
    recipe: &LoadedRecipe,
    binding: &Binding,
    services: &BuildServices,
) -> Result<PartGrant, crate::trust::grants::Denial> {
    let identity = match &binding.classic {
        Some(classic) => classic.identity(),
        None => crate::trust::grants::recipe_identity(&recipe.name, &recipe.digest),
    };
    let user = grants_for(grants, part, &identity);
    let declared = match &binding.classic {
        Some(_) => super::classic::ClassicRecipe::declared(part, &user),
        None => recipe.declared(),
    };
    let mut grant = PartGrant::new(part, &recipe.name, &declared, &user, layout)?;
    grant.entry = binding.entry.clone();
    if let Some(classic) = &binding.classic {
        grant.entry = Some(classic.entry.clone());
        grant.read.extend(classic.locations());
        grant.runner_env = classic.environment(&services.snapshot.lock().unwrap());
        grant.declares_grants = true;
    }
    Ok(grant)
}

/// The user's grants that apply to `part` with the recipe `identity` (see
/// `recipe_identity`, `ClassicRecipe::identity`): a grant bound to another recipe
/// (the configuration changed the part's recipe since) does not, and bo says so
/// once per part.
pub(super) fn grants_for(grants: &UserGrants, part: &str, identity: &str) -> UserGrants {
    let (applying, dropped) = grants.for_recipe(part, identity);
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

/// Where bo keeps its own things for this build, which no recipe may write.
fn reserved_places(
    settings: &BuildoutSettings,
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
