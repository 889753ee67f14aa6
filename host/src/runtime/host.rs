//! The services bo offers recipes (the `host` interface of `wit/recipe`): logging
//! with a volume cap, a read-only view of the configuration, downloads and program
//! runs. Every service checks the part's grant first; a denial stops the call and is
//! reported with the exact grant to add.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::PartState;
use super::bo::recipe::host::Host;
use super::bo::recipe::python::{Distribution, ScriptsRequest};
use super::bo::recipe::types::{Level, RunOutput, RunRequest};

/// Cap on any one program run, whatever the recipe asks for.
const MAX_RUN_TIME: Duration = Duration::from_secs(3600);

impl super::bo::recipe::types::Host for PartState {}

impl Host for PartState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let cost = message.len() + 1;
        if cost > self.log_budget {
            self.log_flooded = true;
            return Err(wasmtime::Error::msg("log volume limit exceeded"));
        }
        self.log_budget -= cost;
        self.services.log(&self.grant.part, level, &message);
        Ok(())
    }

    fn config_get(&mut self, section: String, option: String) -> wasmtime::Result<Option<String>> {
        Ok(self.services.config_get(&section, &option))
    }

    fn download(&mut self, url: String, sha256: Option<String>, md5: Option<String>) -> wasmtime::Result<Result<String, String>> {
        let host = url_host(&url);
        if let Err(denial) = self.grant.check_host(&host) {
            let message = denial.to_string();
            self.denial = Some(denial);
            return Ok(Err(message));
        }
        let fetched = self.services.download(&url, sha256.as_deref(), md5.as_deref());
        if let Ok(path) = &fetched {
            self.downloaded.push(path.clone());
        }
        Ok(fetched.map(|p| p.to_string_lossy().into_owned()))
    }

    fn extract(
        &mut self,
        archive: String,
        destination: String,
        strip_top_level: bool,
        replace_existing: bool,
    ) -> wasmtime::Result<Result<Vec<String>, String>> {
        if let Err(message) = self.readable(&archive).and(self.writable(&destination, "unpack into")) {
            return Ok(Err(message));
        }
        self.services
            .log(&self.grant.part, Level::Debug, &format!("unpacking {archive} into {destination}"));
        Ok(
            crate::archive::extract(Path::new(&archive), Path::new(&destination), strip_top_level, replace_existing)
                .map(|paths| paths.into_iter().map(|p| p.to_string_lossy().into_owned()).collect())
                .map_err(|e| e.to_string()),
        )
    }

    fn prepared_dirs(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.prepared.iter().map(|p| p.to_string_lossy().into_owned()).collect())
    }

    fn copy_file(&mut self, source: String, destination: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(message) = self.readable(&source).and(self.writable(&destination, "write")) {
            return Ok(Err(message));
        }
        let target = Path::new(&destination);
        let copied = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::copy(&source, target))
            .map(|_| ())
            .map_err(|e| format!("cannot copy {source} to {destination}: {e}"));
        Ok(copied)
    }

    fn set_mode(&mut self, path: String, mode: u32) -> wasmtime::Result<Result<(), String>> {
        let target = std::path::Path::new(&path);
        // Directories bo created for this call belong to the part as well.
        let prepared = self.prepared.iter().any(|p| p == target);
        if !self.grant.may_write(target) && !prepared {
            return Ok(Err(format!(
                "cannot set the mode of {path}: not in a directory this part may write"
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Never through a symlink: the link could point outside the sandbox.
            match std::fs::symlink_metadata(target) {
                Ok(meta) if meta.file_type().is_symlink() => return Ok(Err(format!("cannot set the mode of {path}: it is a symlink"))),
                Err(e) => return Ok(Err(format!("cannot set the mode of {path}: {e}"))),
                Ok(_) => {}
            }
            Ok(std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| format!("cannot set the mode of {path}: {e}")))
        }
        #[cfg(not(unix))]
        Ok(Ok(()))
    }

    fn run(&mut self, request: RunRequest) -> wasmtime::Result<Result<RunOutput, String>> {
        if let Err(denial) = self.grant.check_program(&request.program) {
            let message = denial.to_string();
            self.denial = Some(denial);
            return Ok(Err(message));
        }
        let cwd = match &request.cwd {
            // The program itself runs outside the sandbox (that is what the grant
            // allows); the working directory need only be one the part can see.
            Some(dir) if !self.grant.may_own(std::path::Path::new(dir)) => {
                return Ok(Err(format!(
                    "cannot run {} in {dir}: not a directory this part may read",
                    request.program
                )));
            }
            Some(dir) => std::path::PathBuf::from(dir),
            None => self.grant.write.first().cloned().unwrap_or_default(),
        };
        let timeout = request
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(MAX_RUN_TIME)
            .min(MAX_RUN_TIME);
        let mut command = Command::new(&request.program);
        command
            .args(&request.args)
            .current_dir(&cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.grant.visible_env())
            .envs(request.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = match run_with_timeout(command, timeout) {
            Ok(output) => output,
            Err(e) => return Ok(Err(format!("cannot run {}: {e}", request.program))),
        };
        for line in output.stdout.lines().chain(output.stderr.lines()) {
            self.services.log(&self.grant.part, Level::Debug, line);
        }
        Ok(Ok(output))
    }
}

impl PartState {
    /// A file the part may read: one downloaded during this call, or one inside the
    /// directories its sandbox shows it. Symlinks are resolved first, so a link
    /// planted in the buildout cannot point the host at a file outside.
    fn readable(&self, path: &str) -> Result<(), String> {
        let real = std::fs::canonicalize(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let downloaded = self.downloaded.iter().any(|d| std::fs::canonicalize(d).is_ok_and(|d| d == real));
        if downloaded || self.grant.may_own(&real) {
            Ok(())
        } else {
            Err(format!(
                "part {} (recipe {}) may not read {path}: it is neither a download of this part nor inside the buildout",
                self.grant.part, self.grant.recipe
            ))
        }
    }

    /// A destination inside a directory the part may write (checked on the nearest
    /// existing ancestor with symlinks resolved, then the rest of the path).
    fn writable(&self, path: &str, verb: &str) -> Result<(), String> {
        let target = crate::config::abspath(Path::new("/"), Path::new(path));
        let mut existing = target.as_path();
        while existing.symlink_metadata().is_err() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => break,
            }
        }
        let real = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
        let real_target = real.join(target.strip_prefix(existing).unwrap_or(Path::new("")));
        let write_dirs_real = self
            .grant
            .write
            .iter()
            .any(|dir| real_target.starts_with(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())));
        if self.grant.may_write(&target) && write_dirs_real {
            Ok(())
        } else {
            Err(format!(
                "part {} (recipe {}) may not {verb} {path}: not in a directory this part may write",
                self.grant.part, self.grant.recipe
            ))
        }
    }
}

fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("").to_string();
    }
    authority.split(':').next().unwrap_or("").to_string()
}

fn run_with_timeout(mut command: Command, timeout: Duration) -> std::io::Result<RunOutput> {
    let mut child = command.spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status.code().unwrap_or(-1);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(RunOutput { status, stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn hosts_from_urls() {
        assert_eq!(url_host("https://user:pw@Example.com:8443/x"), "Example.com");
        assert_eq!(url_host("http://127.0.0.1:5000/a"), "127.0.0.1");
        assert_eq!(url_host("http://[::1]:80/"), "::1");
    }
}

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

    fn write_scripts(&mut self, request: ScriptsRequest) -> wasmtime::Result<Result<Vec<String>, String>> {
        let bin = std::path::PathBuf::from(&request.bin_directory);
        if !self.grant.may_write(&bin) {
            return Ok(Err(format!(
                "part {} (recipe {}) may not write scripts to {}: declare it in the recipe's `writes`",
                self.grant.part, self.grant.recipe, request.bin_directory
            )));
        }
        let scripts = crate::python::scripts::ScriptsRequest {
            executable: self.services.python_executable(&self.grant.part),
            path: request.path,
            scripts: request.scripts.into_iter().map(|s| (s.name, s.module, s.attrs)).collect(),
            interpreter: request.interpreter,
            initialization: request.initialization,
            arguments: request.arguments,
            relative_to: request.relative_paths.then(|| self.services.buildout_directory()),
            bin_directory: bin,
        };
        Ok(crate::python::scripts::write(&scripts).map(|paths| paths.into_iter().map(|p| p.to_string_lossy().into_owned()).collect()))
    }
}
