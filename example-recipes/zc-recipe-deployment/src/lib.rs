//! `zc.recipe.deployment`: the directories of a Unix deployment. The default entry
//! makes `etc-directory` (`<etc-prefix>/<name>`), `log-directory`, `run-directory`,
//! `cache-directory` and `lib-directory` (under `<var-prefix>/log|run|cache|lib`),
//! and the shared `crontab-directory`, `rc-directory` and `logrotate-directory`
//! (under `<etc-prefix>`) when missing; `prefix` (default `/`) roots them all.
//! Other parts read these options. Uninstalling removes the deployment's own
//! directories, never the shared ones.
//!
//! `zc.recipe.deployment:configuration` writes `text` (or the file `file`) to
//! `<directory>/<name>` (default: the deployment's etc-directory and the part's
//! name); `zc.recipe.deployment:crontab` writes `<times> <user> <command>` to
//! `<crontab-directory>/<deployment name>-<part>`.
//!
//! These directories are usually outside the buildout: each needs the user's
//! grant, e.g. `--grant app:outside=/srv/app` for everything under `/srv/app`.
//! Ownership (`user`, `etc-user`) cannot be changed from the sandbox: bo creates
//! the directories as the user running it and says so.

use bo_recipe_sdk::{Manifest, Options, Recipe, config_get, entry, export_recipe, log, prepared_dirs, set_mode};

struct Deployment;

const OWN_DIRS: [(&str, u32); 5] = [
    ("etc-directory", 0o755),
    ("cache-directory", 0o755),
    ("lib-directory", 0o755),
    ("log-directory", 0o755),
    ("run-directory", 0o750),
];
const SHARED_DIRS: [&str; 3] = ["crontab-directory", "rc-directory", "logrotate-directory"];

fn join(base: &str, rest: &str) -> String {
    format!("{}/{rest}", base.trim_end_matches('/'))
}

fn set_default(options: &mut Options, name: &str, value: String) -> String {
    match options.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        Some(given) => given.to_string(),
        None => {
            options.set(name, value.clone());
            value
        }
    }
}

/// The deployment part a configuration or crontab part belongs to.
fn deployment_option(options: &Options, key: &str) -> Result<String, String> {
    let deployment = options.require("deployment")?;
    config_get(&deployment, key).ok_or_else(|| format!("deployment {deployment} has no option {key}"))
}

fn init_deployment(part: &str, options: &mut Options) {
    let name = set_default(options, "name", part.to_string());
    let prefix = set_default(options, "prefix", "/".into());
    let etc = set_default(options, "etc-prefix", join(&prefix, "etc"));
    let var = set_default(options, "var-prefix", join(&prefix, "var"));
    set_default(options, "etc-user", "root".into());
    set_default(options, "etc-directory", join(&etc, &name));
    for kind in ["log", "run", "cache", "lib"] {
        set_default(options, &format!("{kind}-directory"), join(&var, &format!("{kind}/{name}")));
    }
    set_default(options, "crontab-directory", join(&etc, "cron.d"));
    set_default(options, "rc-directory", join(&etc, "init.d"));
    set_default(options, "logrotate-directory", join(&etc, "logrotate.d"));
}

fn install_deployment(options: &Options) -> Result<Vec<String>, String> {
    let user = options.require("user")?;
    let prepared = prepared_dirs();
    let mut created = Vec::new();
    let report = |dir: &str, mode: u32, owner: &str| -> Result<(), String> {
        set_mode(dir, mode)?;
        log::info(&format!("Creating '{dir}',\n    mode {mode:o}, user '{owner}', group '{owner}'"));
        Ok(())
    };
    for (key, mode) in OWN_DIRS {
        let dir = options.require(key)?;
        let owner = if key == "etc-directory" { options.get_or("etc-user", "root").to_string() } else { user.clone() };
        if prepared.contains(&dir) {
            report(&dir, mode, &owner)?;
        }
        created.push(dir);
    }
    for key in SHARED_DIRS {
        let dir = options.require(key)?;
        if prepared.contains(&dir) {
            report(&dir, 0o755, options.get_or("etc-user", "root"))?;
        }
    }
    log::warn(&format!(
        "ownership is left to the user running bo: the sandbox cannot chown to '{user}'"
    ));
    Ok(created)
}

fn write_file(path: &str, text: &str, mode: Option<u32>) -> Result<Vec<String>, String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    if let Some(mode) = mode {
        set_mode(path, mode)?;
    }
    Ok(vec![path.to_string()])
}

impl Recipe for Deployment {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        let mut writes: Vec<String> = OWN_DIRS.iter().map(|(k, _)| format!("option-dir:{k}")).collect();
        writes.extend(SHARED_DIRS.iter().map(|k| format!("option-dir:{k}")));
        writes.push("option:location".into());
        let writes: Vec<&str> = writes.iter().map(String::as_str).collect();
        Manifest::new("zc.recipe.deployment", "Directories, configuration files and cron jobs of a Unix deployment")
            .also_named(&["zc.recipe.deployment:configuration", "zc.recipe.deployment:crontab"])
            .writes(&writes)
    }

    fn init(part: &str, options: &mut Options) -> Result<(), String> {
        match entry().as_deref() {
            None | Some("default") => init_deployment(part, options),
            Some("configuration") => {
                let directory = match options.get("directory") {
                    Some(dir) => dir.to_string(),
                    None if options.get("deployment").is_some() => deployment_option(options, "etc-directory")?,
                    None => format!("{}/{part}", config_get("buildout", "parts-directory").unwrap_or_default()),
                };
                let name = options.get("name").unwrap_or(part).to_string();
                options.set("location", join(&directory, &name));
            }
            Some("crontab") => {
                let crontab = deployment_option(options, "crontab-directory")?;
                let name = deployment_option(options, "name")?;
                options.set("location", join(&crontab, &format!("{name}-{part}")));
            }
            Some(other) => return Err(format!("zc.recipe.deployment has no entry {other:?}")),
        }
        Ok(())
    }

    fn install(_part: &str, options: &Options) -> Result<Vec<String>, String> {
        match entry().as_deref() {
            Some("configuration") => {
                let text = match (options.get("text"), options.get("file")) {
                    (Some(text), None) => text.to_string(),
                    (None, Some(file)) => {
                        let base = config_get("buildout", "directory").unwrap_or_default();
                        let path = if file.starts_with('/') { file.to_string() } else { join(&base, file) };
                        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?
                    }
                    _ => return Err("exactly one of text and file must be given".into()),
                };
                write_file(&options.require("location")?, &text, None)
            }
            Some("crontab") => {
                let user = match options.get("user") {
                    Some(user) => user.to_string(),
                    None => deployment_option(options, "user")?,
                };
                let line = format!("{} {user} {}\n", options.require("times")?.trim(), options.require("command")?.trim());
                write_file(&options.require("location")?, &line, Some(0o644))
            }
            _ => install_deployment(options),
        }
    }

    fn update(part: &str, options: &Options) -> Result<Vec<String>, String> {
        match entry().as_deref() {
            Some("configuration") | Some("crontab") => Self::install(part, options),
            _ => Ok(Vec::new()),
        }
    }
}

export_recipe!(Deployment);
