//! What "inside the buildout" means for the sandbox, and who may move it: the
//! standard directories must lie under the configuration file's directory unless
//! the user set or granted them.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::runtime::grants::UserGrants;

/// The directories that define "inside the buildout" for the sandbox (`directory`,
/// `bin-`, `parts-`, `develop-eggs-directory`, `installed`) must lie under the
/// directory of the configuration file, unless the user set them (command line, user
/// defaults) or granted them (`--grant buildout:outside=DIR`): otherwise a
/// configuration could set `directory = /home/you` and hand its recipes your home.
pub(super) fn check_directories(config: &Config, settings: &crate::config::BuildoutSettings, grants: &UserGrants) -> Result<(), String> {
    let canonical = |d: &Path| {
        let lexical = crate::config::abspath(Path::new("/"), d);
        std::fs::canonicalize(&lexical).unwrap_or(lexical)
    };
    let config_dir = crate::config::abspath(
        &std::env::current_dir().unwrap_or_default(),
        config.config_file.parent().unwrap_or(Path::new(".")),
    );
    let root = canonical(&config_dir);
    let user_defaults = crate::config::user_config_path().map(|p| canonical(&p));
    let trusted_origin = |option: &str| match config.origin_of("buildout", option) {
        Some(crate::config::layers::Origin::CommandLine) => true,
        Some(crate::config::layers::Origin::File { path, .. }) => user_defaults.as_ref().is_some_and(|u| canonical(Path::new(path)) == *u),
        _ => false,
    };
    let outside_grants = grants.values("buildout", crate::runtime::grants::GrantKind::Outside);
    let mut checks: Vec<(&str, PathBuf)> = vec![
        ("directory", settings.directory.clone()),
        ("bin-directory", settings.bin_directory.clone()),
        ("parts-directory", settings.parts_directory.clone()),
        ("develop-eggs-directory", settings.develop_eggs_directory.clone()),
    ];
    if let Some(installed) = &settings.installed {
        checks.push(("installed", installed.clone()));
    }
    for (option, path) in checks {
        let resolved = canonical(&path);
        let inside = resolved.starts_with(&root);
        // A computed value (bin-directory from directory) is as trusted as directory.
        let derived = matches!(
            config.origin_of("buildout", option),
            None | Some(crate::config::layers::Origin::Default | crate::config::layers::Origin::Computed)
        );
        let set_by_user = trusted_origin(option) || (derived && trusted_origin("directory"));
        let granted = outside_grants
            .iter()
            .any(|g| g == "*" || resolved.starts_with(canonical(Path::new(g))));
        if !inside && !set_by_user && !granted {
            return Err(format!(
                "{option} = {} lies outside the directory of {} ({}); a configuration cannot move the buildout elsewhere on its own: grant it with `--grant buildout:outside={}`",
                path.display(),
                config.config_file.display(),
                config_dir.display(),
                resolved.display()
            ));
        }
    }
    Ok(())
}
