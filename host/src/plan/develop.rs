//! `[buildout] develop` as a step of the build: finds the projects the option names,
//! checks the user's `build` grant for each (preparing runs the project's code), and
//! hands them, prepared by [`crate::python::develop`], to the resolver.

use std::path::{Path, PathBuf};

use super::build::Build;

/// `[buildout] develop`: prepares each project (paths relative to the buildout
/// directory; a `*` in the last component matches directories) for the resolver,
/// after checking the user's `build` grant, since preparing runs the project's code.
/// Returns the `.egg-link` files written, for `installed_develop_eggs`.
pub(super) fn prepare(
    develop: &str,
    settings: &crate::config::BuildoutSettings,
    build: &Build,
    tree: &crate::trust::extends::ExtendsPolicy,
) -> Result<Vec<PathBuf>, String> {
    let develop_eggs = &settings.develop_eggs_directory;
    let mut dirs = Vec::new();
    for entry in develop.split_whitespace() {
        let path = crate::config::abspath(&settings.directory, Path::new(entry));
        // The configuration names the project: only one of its own tree (or a
        // directory the user granted) is built on its say.
        tree.own_or_granted(&path)
            .map_err(|why| format!("develop = {entry}: bo will not build it for this configuration: {why}"))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some((prefix, suffix)) = name.split_once('*') {
            let mut matched: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap_or(&settings.directory))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    p.is_dir() && n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len()
                })
                .collect();
            matched.sort();
            // Each match too: a link in the tree (`src/x -> ~`) leads out of it.
            for dir in matched {
                tree.own_or_granted(&dir).map_err(|why| {
                    format!(
                        "develop = {entry}: bo will not build {} for this configuration: {why}",
                        dir.display()
                    )
                })?;
                dirs.push(dir);
            }
        } else if path.is_dir() {
            dirs.push(path);
        } else {
            crate::progress::eprintln(&format!("Couldn't develop '{entry}' (not found)"));
        }
    }
    let grants = build.services.grants.values("buildout", crate::trust::grants::GrantKind::Build);
    if dirs.is_empty() {
        crate::python::develop::remove_stale_links(develop_eggs, &[]);
        *build.services.develop.lock().unwrap() = Vec::new();
        return Ok(Vec::new());
    }
    let settings_for = build.services.install_settings("buildout")?;
    let mut prepared = Vec::new();
    for dir in dirs {
        let name = crate::python::develop::declared_name(&dir);
        let normalized = crate::python::metadata::normalize(&name);
        if !grants
            .iter()
            .any(|g| g == "*" || crate::python::metadata::normalize(g) == normalized)
        {
            return Err(format!(
                "developing {name} ({}) runs its build backend on this machine: grant it with `--grant buildout:build={name}`",
                dir.display()
            ));
        }
        // Checked again now: an earlier project's build could write its own tree,
        // and `develop = a a/b` would have it make `a/b` a link out.
        tree.own_or_granted(&dir)
            .map_err(|why| format!("develop: bo will not build {} for this configuration: {why}", dir.display()))?;
        crate::progress::info(&format!("Develop: '{}'", dir.display()));
        let install = |requirements: &[String]| -> Result<Vec<PathBuf>, String> {
            Ok(crate::python::install(requirements, &settings_for)?
                .into_iter()
                .map(|d| d.location)
                .collect())
        };
        prepared.push(crate::python::develop::prepare(
            &dir,
            &settings_for.executable,
            develop_eggs,
            &install,
            &crate::python::sdist::HookEnv::default(),
        )?);
    }
    crate::python::develop::remove_stale_links(develop_eggs, &prepared);
    let links = prepared.iter().map(|d| develop_eggs.join(format!("{}.egg-link", d.name))).collect();
    *build.services.develop.lock().unwrap() = prepared;
    Ok(links)
}
