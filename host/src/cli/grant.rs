//! `bo grant`: keeps grants in the user's grants file, each bound to the recipe
//! its part has in this configuration (its name and entry, or its component's
//! digest), so that a configuration that changes the part's recipe loses them.

use std::path::Path;

use crate::config::Config;

use super::report;

/// `bo grant`: writes the grants to the user's grants file, each bound to the
/// recipe its part has in this configuration.
pub(super) fn grant(config: &Config, grants: &[String], global: bool) -> Result<(), String> {
    let mut session = config.evaluate().map_err(report)?;
    let mut bound = Vec::new();
    for text in grants {
        let mut grant: crate::trust::grants::Grant = text.parse().map_err(|e| format!("error: {e}"))?;
        if grant.recipe.is_none() && grant.part != "*" && grant.part != crate::trust::CONFIG_GRANTEE {
            if !config.raw.contains_key(&grant.part) {
                return Err(format!("error: the configuration has no part {}", grant.part));
            }
            session.evaluator.section(&grant.part).map_err(report)?;
            let reference = session
                .evaluator
                .get(&grant.part, "recipe", None)
                .map_err(report)?
                .ok_or_else(|| format!("error: the configuration has no part {} with a recipe", grant.part))?;
            // A component's digest: a file's, or an OCI recipe's as bo pulled it.
            let component = if reference.trim().starts_with("oci://") {
                let options = crate::oci::OciOptions {
                    offline: true,
                    store: crate::fsutil::default_cache_dir().join("oci"),
                    ..Default::default()
                };
                crate::oci::pull(reference.trim(), &options)
                    .map(|pulled| pulled.component)
                    .map_err(|e| {
                        format!("error: {reference}: {e}; run `bo build` once (it pulls the recipe), or grant on the command line")
                    })?
            } else {
                crate::plan::recipes::resolve(&reference, &config.directory)
                    .map(|source| source.path)
                    .map_err(|e| format!("error: {e}"))?
            };
            let digest = match crate::runtime::bundled::component(&component) {
                Some((digest, _)) => digest.to_string(),
                None => {
                    let bytes = std::fs::read(&component).map_err(|e| format!("error: {}: {e}", component.display()))?;
                    crate::runtime::cache::digest(&bytes)
                }
            };
            grant.recipe = Some(crate::trust::grants::recipe_identity(&reference, &digest));
        }
        bound.push(grant);
    }
    let file = crate::trust::grants::user_grants_file();
    let directory = crate::trust::canonical(config.config_file.parent().unwrap_or(Path::new(".")));
    crate::trust::grants_file::add(&file, (!global).then_some(directory.as_path()), &bound).map_err(|m| format!("error: {m}"))?;
    for grant in &bound {
        println!("granted {grant}");
    }
    println!("(in {})", file.display());
    Ok(())
}
