//! Classic Python recipes: `recipe = NAME[:ENTRY]` that names no component bo
//! knows is, as in Buildout, a Python requirement. bo resolves it with the
//! buildout's `[versions]`, index and find-links through its own resolver into the
//! store, for the classic-recipe runner's interpreter (CPython on WASI: pure-Python
//! distributions only; sdists are made pure from their egg-info, never built),
//! locks it in `bo.lock` as `PART:recipe`, and finds its `zc.buildout` entry point.
//! The recipe's code then runs, unmodified, inside the runner component
//! (`example-recipes/python/classic-runner`, bundled in bo), sandboxed like any
//! component: a classic recipe declares nothing, so its part gets exactly what the
//! user granted that part (and its part directory and `bin/`), and its
//! distributions read-only.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::recipes::RecipeSource;
use crate::config::condition::TargetEnv;
use crate::python::{self, Installed};
use crate::trust::grants::{Declared, GrantKind, UserGrants};

/// The bundled component that runs classic recipes.
pub const RUNNER: &str = "bo.classic-runner";

/// What the runner provides itself: never installed, whatever a recipe requires.
pub const PROVIDED: &[&str] = &["zc-buildout", "setuptools", "pip", "wheel"];

/// A classic recipe resolved for one part.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassicRecipe {
    /// The project as the reference names it.
    pub project: String,
    /// The entry point name (`default` unless `NAME:ENTRY`).
    pub entry: String,
    /// The recipe and its dependencies, in resolution order.
    pub distributions: Vec<Installed>,
    /// `module:attrs` of the `zc.buildout` entry point.
    pub target: String,
    /// `module:attrs` of the `zc.buildout.uninstall` entry point, if any.
    pub uninstall: Option<String>,
}

/// The interpreter inside the runner (componentize-py 0.25's CPython).
pub fn runner_target() -> TargetEnv {
    TargetEnv {
        python_version: (3, 14, 0),
        implementation: "CPython".into(),
        sys_platform: "wasi".into(),
        os_name: "posix".into(),
        platform_system: "WASI".into(),
        platform_machine: "wasm32".into(),
        platform_release: String::new(),
        platform_version: String::new(),
        pointer_bits: 32,
        little_endian: true,
        glibc: None,
        executable: None,
    }
}

/// `NAME[:ENTRY]` (NAME may carry a version constraint, `name==1.0`) as the
/// requirement to install and the entry point to use.
pub fn parse_reference(reference: &str) -> (String, String) {
    let (requirement, entry) = match reference.split_once(':') {
        Some((r, e)) => (r.trim(), e.trim()),
        None => (reference.trim(), "default"),
    };
    let entry = if entry.is_empty() { "default" } else { entry };
    (requirement.to_string(), entry.to_string())
}

/// The project name of a requirement string.
pub fn project_of(requirement: &str) -> &str {
    requirement
        .split(['=', '<', '>', '!', '~', ' ', '[', ';'])
        .next()
        .unwrap_or(requirement)
        .trim()
}

/// Reads `group` of the `entry_points.txt` of the distribution at `location`.
pub fn entry_points(location: &std::path::Path, group: &str) -> Vec<(String, String)> {
    let Some(text) = std::fs::read_dir(location)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dist-info"))
        .and_then(|d| std::fs::read_to_string(d.join("entry_points.txt")).ok())
    else {
        return Vec::new();
    };
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = section.trim().to_string();
        } else if current == group
            && let Some((name, value)) = line.split_once('=')
        {
            // `module:attrs [extras]`: the extras are the distribution's business.
            let value = value.split('[').next().unwrap_or(value).trim();
            out.push((name.trim().to_string(), value.to_string()));
        }
    }
    out
}

/// A valid `module:attrs` entry point target (what the runner imports).
fn valid_target(target: &str) -> bool {
    let (module, attrs) = target.split_once(':').unwrap_or((target, ""));
    let dotted = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    dotted(module) && (attrs.is_empty() || dotted(attrs))
}

impl ClassicRecipe {
    /// Finds the recipe's entry points in its installed distribution.
    pub fn from_installed(requirement: &str, entry: &str, distributions: Vec<Installed>) -> Result<ClassicRecipe, String> {
        let project = project_of(requirement).to_string();
        let wanted = python::metadata::normalize(&project);
        let dist = distributions
            .iter()
            .find(|d| python::metadata::normalize(&d.name) == wanted)
            .ok_or_else(|| format!("{project} was resolved but is not in its own working set"))?;
        let recipes = entry_points(&dist.location, "zc.buildout");
        let Some((_, target)) = recipes.iter().find(|(name, _)| name == entry) else {
            let names: Vec<&str> = recipes.iter().map(|(n, _)| n.as_str()).collect();
            return Err(if names.is_empty() {
                format!(
                    "{} {} is not a Buildout recipe: it has no zc.buildout entry points",
                    dist.name, dist.version
                )
            } else {
                format!(
                    "{} {} has no recipe entry point {entry:?} (it has: {})",
                    dist.name,
                    dist.version,
                    names.join(", ")
                )
            });
        };
        if !valid_target(target) {
            return Err(format!("{}: the entry point {entry} = {target:?} is not module:attrs", dist.name));
        }
        let uninstall = entry_points(&dist.location, "zc.buildout.uninstall")
            .into_iter()
            .find(|(name, _)| name == entry)
            .map(|(_, t)| t)
            .filter(|t| valid_target(t));
        Ok(ClassicRecipe {
            project,
            entry: entry.to_string(),
            target: target.clone(),
            uninstall,
            distributions,
        })
    }

    /// Buildout's `__buildout_signature__` for the part: the distributions that
    /// make up the recipe, so that a new version of any of them reinstalls it.
    pub fn signature(&self, runner_digest: &str) -> String {
        format!("{}-{}", self.project, self.distributions_hash(runner_digest))
    }

    /// 16 hex digits of a sha256 of `seed` and each distribution's name, version
    /// and sha256.
    fn distributions_hash(&self, seed: &str) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(seed.as_bytes());
        for d in &self.distributions {
            hasher.update(format!("\n{} {} {}", d.name, d.version, d.sha256).as_bytes());
        }
        hex::encode(hasher.finalize())[..16].to_string()
    }

    /// What identifies this recipe for grants bound to it: its reference and the
    /// content of every distribution it runs (their sha256s). A name alone would
    /// follow whatever the configuration's index or find-links serve under it.
    pub fn identity(&self) -> String {
        let entry = if self.entry == "default" {
            String::new()
        } else {
            format!(":{}", self.entry)
        };
        format!("{}{entry}#sha256:{}", self.project, self.distributions_hash(""))
    }

    /// What the part may use: a classic recipe cannot declare its needs, so it is
    /// taken to declare exactly what the user granted this part (the grant is
    /// still bound to the recipe), plus `bin/`.
    pub fn declared(part: &str, user: &UserGrants) -> Declared {
        let mut writes = vec!["bin".to_string()];
        writes.extend(user.values(part, GrantKind::Write));
        Declared {
            writes,
            outside: user.values(part, GrantKind::Outside),
            hosts: user.values(part, GrantKind::Host),
            programs: user.values(part, GrantKind::Program),
            env: user.values(part, GrantKind::Env),
        }
    }

    /// Directories the runner reads the recipe's code from.
    pub fn locations(&self) -> Vec<PathBuf> {
        self.distributions.iter().map(|d| d.location.clone()).collect()
    }

    /// What the runner is told for one call (WASI environment variables): the
    /// entry points, its `sys.path`, the working set, and the sections of the
    /// configuration evaluated so far (values it asks through `config-get`).
    pub fn environment(&self, snapshot: &HashMap<String, IndexMap<String, String>>) -> Vec<(String, String)> {
        let path: Vec<String> = self.locations().iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let dists: Vec<serde_json::Value> = self
            .distributions
            .iter()
            .map(|d| serde_json::json!({"name": d.name, "version": d.version, "location": d.location}))
            .collect();
        let mut sections: Vec<(&String, Vec<&String>)> = snapshot.iter().map(|(s, o)| (s, o.keys().collect())).collect();
        sections.sort();
        let sections: serde_json::Map<String, serde_json::Value> =
            sections.into_iter().map(|(s, keys)| (s.clone(), serde_json::json!(keys))).collect();
        let mut env = vec![
            ("BO_CLASSIC_ENTRY".to_string(), self.target.clone()),
            ("BO_CLASSIC_PATH".to_string(), serde_json::json!(path).to_string()),
            ("BO_CLASSIC_DISTS".to_string(), serde_json::Value::Array(dists).to_string()),
            ("BO_CLASSIC_SECTIONS".to_string(), serde_json::Value::Object(sections).to_string()),
        ];
        if let Some(uninstall) = &self.uninstall {
            env.push(("BO_CLASSIC_UNINSTALL".to_string(), uninstall.clone()));
        }
        env
    }
}

impl super::recipes::BuildServices {
    /// A reference that names no component: a classic Python recipe, resolved
    /// (once per part and build) for the runner and locked as `PART:recipe`.
    pub(super) fn resolve_classic(&self, part: &str, reference: &str, not_a_component: &str) -> Result<RecipeSource, String> {
        let key = format!("{part}\0{reference}");
        let runner = || {
            super::recipes::resolve(RUNNER, &self.directory)
                .map_err(|e| format!("recipe {reference} is a classic Python recipe, but bo's classic-recipe runner is missing: {e}"))
        };
        if let Some(found) = self.classic.lock().unwrap().get(&key).cloned() {
            return Ok(RecipeSource {
                reference: reference.to_string(),
                classic: Some(found),
                ..runner()?
            });
        }
        let (requirement, entry) = parse_reference(reference);
        let mut settings = self.install_settings(part)?;
        settings.fixed_target = Some(runner_target());
        settings.provided = PROVIDED.iter().map(|s| s.to_string()).collect();
        settings.part = format!("{part}:recipe");
        let installed = self
            .install_locked(&settings.part.clone(), &[requirement.clone()], &settings)
            .map_err(|e| {
                let project = crate::python::metadata::normalize(project_of(&requirement));
                if e.contains(&format!("Couldn't find a distribution for '{project}")) {
                    unknown_recipe(not_a_component, &e)
                } else {
                    format!("recipe {reference}: {e}")
                }
            })?;
        let classic = ClassicRecipe::from_installed(&requirement, &entry, installed).map_err(|e| format!("recipe {reference}: {e}"))?;
        let classic = std::sync::Arc::new(classic);
        self.classic.lock().unwrap().insert(key, classic.clone());
        Ok(RecipeSource {
            reference: reference.to_string(),
            classic: Some(classic),
            ..runner()?
        })
    }
}

/// What [`unknown_recipe`] says, to tell its message apart.
pub const NOT_A_DISTRIBUTION: &str = "nor is it a Python distribution";

/// The message for a reference that is neither a component nor a distribution.
pub fn unknown_recipe(component_error: &str, index_error: &str) -> String {
    format!(
        "{component_error}; {NOT_A_DISTRIBUTION} ({index_error}). Provide the recipe as a component: a directory of components in BO_RECIPE_PATH, a path to a .wasm, an oci:// reference, or write one with `bo recipe new`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(parse_reference("zc.recipe.egg"), ("zc.recipe.egg".into(), "default".into()));
        assert_eq!(
            parse_reference("slapos.recipe.template:jinja2"),
            ("slapos.recipe.template".into(), "jinja2".into())
        );
        assert_eq!(project_of("a.b==1.0"), "a.b");
        assert!(valid_target("collective.recipe.omelette:Recipe"));
        assert!(valid_target("a.b:C.d"));
        assert!(!valid_target("a b:C"));
        assert!(!valid_target("os:system;x"));
    }
}
