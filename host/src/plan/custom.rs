//! The host side of zc.recipe.egg's `:custom` and `:develop`: the part's index
//! settings and `build` grant, the directory checked to be the buildout's own,
//! and the build handed to the resolver (every later part prefers it, as
//! Buildout's develop-eggs directory is searched first).

use std::path::Path;

use super::recipes::BuildServices;
use crate::python::custom::{self, CustomBuild};
use crate::python::develop::DevelopDist;
use crate::python::{Installed, metadata};

impl BuildServices {
    pub(super) fn build_custom(
        &self,
        part: &str,
        requirement: &str,
        build_ext: &[(String, String)],
        environment: Option<&str>,
    ) -> Result<Installed, String> {
        let settings = self.install_settings(part)?;
        let environment = match environment.map(str::trim).filter(|e| !e.is_empty()) {
            None => Vec::new(),
            Some(section) => {
                let snapshot = self.snapshot.lock().unwrap();
                let values = snapshot
                    .get(section)
                    .ok_or_else(|| format!("part {part}: environment = {section}: no such section"))?;
                values.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
        };
        let build = CustomBuild {
            build_ext: build_ext.to_vec(),
            environment,
            tree: self.directory.clone(),
        };
        let develop_eggs = self.develop_eggs_directory();
        let dist = custom::build_custom(requirement, &build, &settings, &develop_eggs).map_err(|e| format!("part {part}: {e}"))?;
        Ok(self.prefer(dist))
    }

    pub(super) fn develop_part(&self, part: &str, directory: &str, build_ext: &[(String, String)]) -> Result<Installed, String> {
        let settings = self.install_settings(part)?;
        let dir = crate::fsutil::abspath(&self.directory, Path::new(directory));
        // The configuration names it: only a directory of the buildout's own is
        // built on its say (no link may lead elsewhere).
        let real = dir.canonicalize().map_err(|e| format!("part {part}: setup = {directory}: {e}"))?;
        let root = self.directory.canonicalize().unwrap_or(self.directory.clone());
        if !real.starts_with(&root) || !real.is_dir() {
            return Err(format!(
                "part {part}: setup = {directory}: bo develops only a directory inside the buildout"
            ));
        }
        let build = CustomBuild {
            build_ext: build_ext.to_vec(),
            environment: Vec::new(),
            tree: self.directory.clone(),
        };
        crate::progress::info(&format!("Develop: '{}'", real.display()));
        let dist =
            custom::develop_custom(&real, &build, &settings, &self.develop_eggs_directory()).map_err(|e| format!("part {part}: {e}"))?;
        Ok(self.prefer(dist))
    }

    /// Hands a build to the resolver (replacing an earlier one of the project).
    fn prefer(&self, dist: DevelopDist) -> Installed {
        let mut develop = self.develop.lock().unwrap();
        let name = metadata::normalize(&dist.name);
        develop.retain(|d| metadata::normalize(&d.name) != name);
        develop.push(dist.clone());
        Installed {
            name: dist.name,
            version: dist.version.to_string(),
            location: dist.location,
            console_scripts: dist.console_scripts,
            required_by: Vec::new(),
            picked: false,
            filename: String::new(),
            sha256: String::new(),
            source: crate::python::DEVELOP_SOURCE.to_string(),
        }
    }

    fn develop_eggs_directory(&self) -> std::path::PathBuf {
        let snapshot = self.snapshot.lock().unwrap();
        snapshot
            .get("buildout")
            .and_then(|b| b.get("develop-eggs-directory"))
            .map(|d| crate::fsutil::abspath(&self.directory, Path::new(d)))
            .unwrap_or_else(|| self.directory.join("develop-eggs"))
    }
}
