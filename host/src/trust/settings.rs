//! `[buildout]` settings that make bo write or execute. From the configuration
//! tree (untrusted) a path bo writes must lie inside the buildout (the directory
//! of the configuration file), in no hidden directory (`.git/hooks` is code), not
//! inside a directory recipes write (bin, parts) when bo keeps its own things there,
//! and never in bo's cache; an interpreter bo runs must be the default one, the
//! user's, or granted. The user's own values (command line, default.cfg) and grants
//! (`--grant buildout:outside=DIR`, `buildout:program=PATH`) are followed as given.

use std::path::{Path, PathBuf};

use super::grants::{GrantKind, UserGrants};
use super::{CONFIG_GRANTEE, bo_cache_root, canonical, hidden_component, set_by_user};
use crate::config::{BuildoutSettings, Config};

/// A `[buildout]` path setting and what bo does with it.
struct PathSetting {
    option: &'static str,
    path: PathBuf,
    /// bo keeps its own things there (state, distributions, caches): recipes must
    /// not be able to write it.
    bo_owned: bool,
}

/// The directory of the configuration file, resolved: "inside the buildout".
pub fn buildout_root(config: &Config) -> PathBuf {
    canonical(config.config_file.parent().unwrap_or(Path::new(".")))
}

/// Whether `resolved` is covered by a `buildout:outside` grant.
fn granted_outside(grants: &UserGrants, resolved: &Path) -> bool {
    grants
        .values(CONFIG_GRANTEE, GrantKind::Outside)
        .iter()
        .any(|g| g == "*" || resolved.starts_with(canonical(Path::new(g))))
}

/// Checks every `[buildout]` setting that names a place bo writes: `directory`,
/// `bin-`, `parts-`, `develop-eggs-`, `eggs-directory`, `installed`,
/// `download-cache`, `extends-cache`, `update-versions-file`.
/// `evaluated` gives an option's value after substitution (what bo will use: a
/// `${...}` in the value must not hide where it points).
pub fn check_directories(
    config: &Config,
    settings: &BuildoutSettings,
    grants: &UserGrants,
    evaluated: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let root = buildout_root(config);
    let raw = |option: &str| {
        evaluated(option)
            .filter(|v| !v.trim().is_empty())
            .map(|v| crate::fsutil::abspath(&settings.directory, Path::new(v.trim())))
    };
    let mut checks = vec![
        PathSetting {
            option: "directory",
            path: settings.directory.clone(),
            bo_owned: false,
        },
        PathSetting {
            option: "bin-directory",
            path: settings.bin_directory.clone(),
            bo_owned: false,
        },
        PathSetting {
            option: "parts-directory",
            path: settings.parts_directory.clone(),
            bo_owned: false,
        },
        PathSetting {
            option: "develop-eggs-directory",
            path: settings.develop_eggs_directory.clone(),
            bo_owned: true,
        },
        PathSetting {
            option: "eggs-directory",
            path: settings.eggs_directory.clone(),
            bo_owned: true,
        },
    ];
    if let Some(installed) = &settings.installed {
        checks.push(PathSetting {
            option: "installed",
            path: installed.parent().unwrap_or(installed).to_path_buf(),
            bo_owned: true,
        });
    }
    for option in ["download-cache", "extends-cache", "update-versions-file"] {
        if let Some(path) = raw(option) {
            let path = if option == "update-versions-file" {
                path.parent().unwrap_or(&path).to_path_buf()
            } else {
                path
            };
            checks.push(PathSetting {
                option,
                path,
                bo_owned: true,
            });
        }
    }
    let recipe_dirs = [canonical(&settings.bin_directory), canonical(&settings.parts_directory)];
    let cache_root = bo_cache_root();
    for PathSetting { option, path, bo_owned } in checks {
        if set_by_user(config, "buildout", option) {
            continue;
        }
        let resolved = canonical(&path);
        let refuse = |why: String| {
            Err(format!(
                "{option} = {} (set in {}) {why}; a configuration cannot do this on its own: grant it with `--grant {CONFIG_GRANTEE}:outside={}`",
                path.display(),
                config
                    .origin_of("buildout", option)
                    .map(|o| o.location())
                    .unwrap_or_else(|| config.config_file.display().to_string()),
                resolved.display()
            ))
        };
        if granted_outside(grants, &resolved) {
            continue;
        }
        if resolved.starts_with(&cache_root) || cache_root.starts_with(&resolved) && bo_owned {
            return refuse(format!("lies in bo's own cache ({})", cache_root.display()));
        }
        if !resolved.starts_with(&root) {
            return refuse(format!(
                "lies outside the directory of {} ({})",
                config.config_file.display(),
                root.display()
            ));
        }
        if let Some(hidden) = hidden_component(&root, &resolved) {
            return refuse(format!(
                "lies in the hidden directory {hidden} (VCS metadata and tools' settings are not for a build to write)"
            ));
        }
        if matches!(option, "bin-directory" | "parts-directory") && resolved == root {
            return refuse("is the buildout directory itself, which holds bo's state".into());
        }
        if bo_owned && let Some(dir) = recipe_dirs.iter().find(|d| resolved.starts_with(d)) {
            return refuse(format!("lies in {}, which recipes write", dir.display()));
        }
    }
    Ok(())
}

/// The interpreters bo may run for this build without a grant: the default one
/// (`BO_PYTHON` or `python3` on PATH, the user's environment) and any `executable`
/// the user set (command line, default.cfg).
#[derive(Debug, Clone, Default)]
pub struct Interpreters {
    trusted: Vec<String>,
    granted: Vec<String>,
}

impl Interpreters {
    pub fn new(config: &Config, grants: &UserGrants) -> Interpreters {
        let mut trusted = vec![crate::config::default_executable()];
        for (section, options) in &config.annotated {
            if let Some(value) = options.get("executable")
                && super::is_users(Some(value.origin()))
            {
                trusted.push(
                    config
                        .raw
                        .get(section)
                        .and_then(|s| s.get("executable"))
                        .cloned()
                        .unwrap_or_else(|| value.value.clone()),
                );
            }
        }
        let mut granted = grants.values(CONFIG_GRANTEE, GrantKind::Program);
        granted.retain(|g| g != "*");
        Interpreters { trusted, granted }
    }

    /// `executable` if bo may run it (probe it, build with it, write it into
    /// scripts), else the refusal naming the grant. A configuration that could name
    /// the interpreter could make bo run any program it ships.
    pub fn permit(&self, part: &str, executable: &str) -> Result<String, String> {
        let executable = executable.trim();
        if self.trusted.iter().chain(&self.granted).any(|t| t == executable) {
            return Ok(executable.to_string());
        }
        Err(format!(
            "part {part}: the configuration names the Python interpreter {executable:?}, which bo would run; only the default interpreter ({}) or one you set runs without a grant: grant it with `--grant {CONFIG_GRANTEE}:program={executable}`",
            self.trusted[0]
        ))
    }
}
