//! The `python` host services a recipe calls (`bo:recipe/python`): installs,
//! scripts, and zc.recipe.egg's custom and develop builds, each done by bo's own
//! Python machinery for the calling part, within its grant.

use std::path::PathBuf;

use super::PartState;
use super::bo::recipe::python::{Distribution, ScriptsRequest};

impl super::bo::recipe::python::Host for PartState {
    fn install(&mut self, requirements: Vec<String>) -> wasmtime::Result<Result<Vec<Distribution>, String>> {
        let result = self.services.python_install(&self.grant.part, &requirements);
        Ok(result.map(|dists| {
            dists
                .into_iter()
                .map(|d| Distribution {
                    name: d.name,
                    version: d.version,
                    location: d.location.to_string_lossy().into_owned(),
                    console_scripts: d.console_scripts,
                })
                .collect()
        }))
    }

    fn build_custom(
        &mut self,
        requirement: String,
        build_ext: Vec<(String, String)>,
        environment: Option<String>,
    ) -> wasmtime::Result<Result<Distribution, String>> {
        let result = self
            .services
            .python_build_custom(&self.grant.part, &requirement, &build_ext, environment.as_deref());
        Ok(result.map(distribution))
    }

    fn develop(&mut self, directory: String, build_ext: Vec<(String, String)>) -> wasmtime::Result<Result<Distribution, String>> {
        let result = self.services.python_develop(&self.grant.part, &directory, &build_ext);
        Ok(result.map(distribution))
    }

    fn write_scripts(&mut self, request: ScriptsRequest) -> wasmtime::Result<Result<Vec<String>, String>> {
        // Checked here; written below through the handle, at the path the grant names.
        if let Err(message) = self.writable(&request.bin_directory, "write scripts to") {
            return Ok(Err(format!("{message} (declare it in the recipe's `writes`)")));
        }
        let bin = PathBuf::from(&request.bin_directory);
        // Script names become file names in bin/: one path component each.
        let names = request
            .scripts
            .iter()
            .map(|s| s.name.as_str())
            .chain(request.interpreter.as_deref());
        for name in names {
            if !crate::trust::grants::is_file_name(name) {
                return Ok(Err(format!("invalid script name {name:?}: it must be a file name, not a path")));
            }
        }
        let executable = match self.services.python_executable(&self.grant.part) {
            Ok(executable) => executable,
            Err(message) => return Ok(Err(message)),
        };
        let scripts = crate::python::scripts::ScriptsRequest {
            executable,
            path: request.path,
            scripts: request.scripts.into_iter().map(|s| (s.name, s.module, s.attrs)).collect(),
            interpreter: request.interpreter,
            initialization: request.initialization,
            arguments: request.arguments,
            relative_to: request.relative_paths.then(|| self.services.buildout_directory()),
            bin_directory: bin,
        };
        // Written through the handle on the part's directories: a link planted
        // where a script goes is replaced, never written through.
        let mut written = Vec::new();
        let interpreter = scripts.interpreter.clone();
        for (dest, text) in crate::python::scripts::render(&scripts) {
            let same = self.write_dirs.read(&dest).is_ok_and(|old| old == text.as_bytes());
            if !same {
                if let Err(e) = self.write_dirs.write_file(&dest, text.as_bytes(), Some(0o755)) {
                    return Ok(Err(format!("cannot write {}: {e}", dest.display())));
                }
                // Buildout's words, for each script it (re)wrote.
                let is_interpreter = interpreter.as_deref().is_some_and(|i| dest.file_name().is_some_and(|n| n == i));
                let kind = if is_interpreter { "interpreter" } else { "script" };
                crate::progress::info(&format!("Generated {kind} '{}'.", dest.display()));
            }
            written.push(dest.to_string_lossy().into_owned());
        }
        Ok(Ok(written))
    }
}

fn distribution(d: crate::python::Installed) -> Distribution {
    Distribution {
        name: d.name,
        version: d.version,
        location: d.location.to_string_lossy().into_owned(),
        console_scripts: d.console_scripts,
    }
}
