//! `zc.recipe.egg` (`:scripts`, the default, and `:eggs`): installs Python
//! distributions through bo's host (`python.install`, no pip or setuptools) and
//! writes console scripts and an interpreter whose `sys.path` names the exact
//! distributions of this part. Options follow zc.recipe.egg: `eggs`, `scripts`,
//! `entry-points`, `dependent-scripts`, `interpreter`, `extra-paths`,
//! `initialization`, `arguments`, `relative-paths`, `find-links`, `index`, `python`.
//!
//! `:custom` builds `egg` (default: the part's name) from its source distribution
//! with distutils `build_ext` options (`include-dirs`, `library-dirs`, `rpath`,
//! `define`, `undef`, `libraries`, `link-objects`, `debug`, `force`, `compiler`,
//! `swig*`) and the variables of the `environment` section, into develop-eggs;
//! `:develop` makes the project in `setup` a develop egg with those options. Both
//! are done by the host (`python.build-custom`, `python.develop`) under the
//! part's `build` grant.

use bo_recipe_sdk::python::{self, Script, ScriptsRequest};
use bo_recipe_sdk::{Manifest, Options, Recipe, config_get, entry, export_recipe};

struct Egg;

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The project name of a requirement string (`foo[bar]>=1` → `foo`).
fn project(requirement: &str) -> String {
    let end = requirement.find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(requirement.len());
    normalize(&requirement[..end])
}

fn buildout(option: &str) -> Option<String> {
    config_get("buildout", option)
}

impl Recipe for Egg {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        Manifest::new("zc.recipe.egg", "Installs Python distributions and writes scripts naming their exact versions")
            .also_named(&[
                "zc.recipe.egg:scripts",
                "zc.recipe.egg:eggs",
                "zc.recipe.egg:script",
                "zc.recipe.egg:custom",
                "zc.recipe.egg:develop",
            ])
            .writes(&["bin"])
    }

    fn init(_part: &str, options: &mut Options) -> Result<(), String> {
        if matches!(entry().as_deref(), Some("custom") | Some("develop")) {
            return init_build(options);
        }
        // zc.recipe.egg records the effective settings among its options.
        if let Some(links) = options.get("find-links").map(String::from).or_else(|| buildout("find-links")) {
            let links: Vec<&str> = links.split_whitespace().collect();
            if !links.is_empty() {
                options.set("find-links", links.join("\n"));
            }
        }
        if let Some(index) = options.get("index").map(String::from).or_else(|| buildout("index")) {
            options.set("index", index);
        }
        let eggs = buildout("eggs-directory").unwrap_or_default();
        let develop = buildout("develop-eggs-directory").unwrap_or_default();
        options.set("eggs-directory", eggs.clone());
        options.set("_e", eggs);
        options.set("develop-eggs-directory", develop.clone());
        options.set("_d", develop);
        let python = options.get("python").map(String::from).or_else(|| buildout("python")).unwrap_or_else(|| "buildout".into());
        if let Some(executable) = config_get(&python, "executable") {
            options.set("executable", executable);
        }
        if entry().as_deref() != Some("eggs") {
            let bin = buildout("bin-directory").unwrap_or_default();
            options.set("bin-directory", bin.clone());
            options.set("_b", bin);
            let directory = buildout("directory").unwrap_or_default();
            let extra: Vec<String> = options
                .get_lines("extra-paths")
                .iter()
                .map(|p| if p.starts_with('/') { p.clone() } else { format!("{directory}/{p}") })
                .collect();
            if !extra.is_empty() {
                options.set("extra-paths", extra.join("\n"));
            }
        }
        Ok(())
    }

    fn install(part: &str, options: &Options) -> Result<Vec<String>, String> {
        match entry().as_deref() {
            Some("custom") => {
                let egg = options.get("egg").or_else(|| options.get("eggs")).unwrap_or(part).trim().to_string();
                python::build_custom(&egg, &build_ext(options), options.get("environment"))?;
                return Ok(Vec::new());
            }
            Some("develop") => {
                python::develop(&options.require("setup")?, &build_ext(options))?;
                return Ok(Vec::new());
            }
            _ => {}
        }
        let mut requirements = options.get_lines("eggs");
        if requirements.is_empty() {
            requirements.push(part.to_string());
        }
        let working_set = python::install(&requirements)?;
        if entry().as_deref() == Some("eggs") {
            return Ok(Vec::new());
        }

        // Which console scripts: the `scripts` option (`name` or `name=newname`),
        // else all of the named eggs' (or every distribution's, with
        // dependent-scripts).
        let wanted: Option<Vec<(String, String)>> = options.get("scripts").map(|s| {
            s.split_whitespace()
                .map(|token| match token.split_once('=') {
                    Some((name, new)) => (name.to_string(), new.to_string()),
                    None => (token.to_string(), token.to_string()),
                })
                .collect()
        });
        let named: Vec<String> = requirements.iter().map(|r| project(r)).collect();
        let dependent = options.get_bool("dependent-scripts", false)?;
        let mut scripts = Vec::new();
        for dist in &working_set {
            if !dependent && !named.contains(&normalize(&dist.name)) {
                continue;
            }
            for (name, target) in &dist.console_scripts {
                let script_name = match &wanted {
                    Some(list) => match list.iter().find(|(n, _)| n == name) {
                        Some((_, new)) => new.clone(),
                        None => continue,
                    },
                    None => name.clone(),
                };
                let (module, attrs) = target.split_once(':').unwrap_or((target.as_str(), "main"));
                scripts.push(Script { name: script_name, module: module.trim().into(), attrs: attrs.trim().into() });
            }
        }
        for line in options.get_lines("entry-points") {
            let (name, target) = line.split_once('=').ok_or_else(|| format!("entry-points: expected name=module:attrs, got {line:?}"))?;
            let (module, attrs) = target.split_once(':').ok_or_else(|| format!("entry-points: expected module:attrs, got {target:?}"))?;
            scripts.push(Script { name: name.trim().into(), module: module.trim().into(), attrs: attrs.trim().into() });
        }

        let mut path: Vec<String> = working_set.iter().map(|d| d.location.clone()).collect();
        path.extend(options.get_lines("extra-paths"));
        let relative = options.get("relative-paths").map(String::from).or_else(|| buildout("relative-paths")).unwrap_or_default() == "true";
        let request = ScriptsRequest {
            path,
            scripts,
            interpreter: options.get("interpreter").map(String::from).filter(|s| !s.is_empty()),
            initialization: options.get_or("initialization", "").to_string(),
            arguments: options.get_or("arguments", "").to_string(),
            relative_paths: relative,
            bin_directory: options.require("bin-directory")?,
        };
        python::write_scripts(&request)
    }

    fn update(part: &str, options: &Options) -> Result<Vec<String>, String> {
        Self::install(part, options)
    }
}

/// The build_ext options zc.recipe.egg passes on, as its `build_ext()` made them.
const BUILD_EXT: &[&str] = &[
    "include-dirs", "library-dirs", "rpath", "define", "undef", "libraries", "link-objects", "debug", "force", "compiler",
    "swig", "swig-cpp", "swig-opts",
];

fn build_ext(options: &Options) -> Vec<(String, String)> {
    BUILD_EXT
        .iter()
        .filter_map(|name| options.get(name).map(|v| (name.to_string(), v.to_string())))
        .collect()
}

/// `:custom` / `:develop`'s constructor: directories made absolute and joined
/// with `:` (rpath's `$ORIGIN` forms kept), `setup` absolute, as zc.recipe.egg
/// records them.
fn init_build(options: &mut Options) -> Result<(), String> {
    let directory = buildout("directory").unwrap_or_default();
    let absolute = |p: &str| if p.starts_with('/') { p.to_string() } else { format!("{directory}/{p}") };
    options.set("_d", buildout("develop-eggs-directory").unwrap_or_default());
    for name in ["include-dirs", "library-dirs"] {
        let lines = options.get_lines(name);
        if options.get(name).is_some() {
            options.set(name, lines.iter().map(|p| absolute(p)).collect::<Vec<_>>().join(":"));
        }
    }
    if options.get("rpath").is_some() {
        let special = ["$ORIGIN", "$LIB", "$PLATFORM", "${ORIGIN}", "${LIB}", "${PLATFORM}"];
        let values: Vec<String> = options
            .get_lines("rpath")
            .iter()
            .map(|p| if special.iter().any(|s| p.starts_with(s)) { p.clone() } else { absolute(p) })
            .collect();
        options.set("rpath", values.join(":"));
    }
    if let Some(swig) = options.get("swig").filter(|s| !s.is_empty()).map(String::from) {
        options.set("swig", absolute(&swig));
    }
    for name in BUILD_EXT.iter().chain(&["egg", "eggs", "environment"]) {
        let _ = options.get(name);
    }
    if entry().as_deref() == Some("develop") {
        let setup = options.require("setup")?;
        options.set("setup", absolute(&setup));
    } else {
        if let Some(links) = options.get("find-links").map(String::from).or_else(|| buildout("find-links")) {
            let links: Vec<&str> = links.split_whitespace().collect();
            if !links.is_empty() {
                options.set("find-links", links.join("\n"));
            }
        }
        if let Some(index) = options.get("index").map(String::from).or_else(|| buildout("index")) {
            options.set("index", index);
        }
        options.set("_e", buildout("eggs-directory").unwrap_or_default());
    }
    Ok(())
}

export_recipe!(Egg);
