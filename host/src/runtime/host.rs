//! The services bo offers recipes (the `host` interface of `wit/recipe`): logging
//! with a volume cap, a read-only view of the configuration, downloads and program
//! runs. Every service checks the part's grant first; a denial stops the call and is
//! reported with the exact grant to add.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PartState;
use super::bo::recipe::host::Host;
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
        // A URL is parsed as the HTTP client will parse it (so `http://evil?@ok/`
        // is `evil`); anything but http(s) must be a file the part can already read.
        let source = match reqwest::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                let host = crate::net::host_of(&parsed);
                if let Err(denial) = self.grant.check_host(&host) {
                    let message = denial.to_string();
                    self.denial = Some(denial);
                    return Ok(Err(message));
                }
                url.clone()
            }
            Ok(parsed) if parsed.scheme() == "file" => match parsed.to_file_path() {
                Ok(path) => match self.readable(&path.to_string_lossy()) {
                    Ok(real) => real.to_string_lossy().into_owned(),
                    Err(message) => return Ok(Err(message)),
                },
                Err(()) => return Ok(Err(format!("cannot download {url}: not a local file URL"))),
            },
            Ok(parsed) if parsed.scheme().len() > 1 => {
                return Ok(Err(format!("cannot download {url}: only http, https and file URLs are supported")));
            }
            // A plain path (or a Windows drive letter read as a scheme).
            _ => match self.readable(&url) {
                Ok(real) => real.to_string_lossy().into_owned(),
                Err(message) => return Ok(Err(message)),
            },
        };
        let grant = self.grant.clone();
        let host_allowed: super::HostCheck = Arc::new(move |host: &str| grant.check_host(host).is_ok());
        let fetched = self.services.download(&source, sha256.as_deref(), md5.as_deref(), host_allowed);
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
        if let Err(message) = self.readable(&archive).and_then(|_| self.writable(&destination, "unpack into")) {
            return Ok(Err(message));
        }
        self.services
            .log(&self.grant.part, Level::Debug, &format!("unpacking {archive} into {destination}"));
        // Read and written through handles (a download is bo's own file); staged in
        // the buildout directory, which no recipe writes, when the destination is
        // inside it, else beside the destination (a directory the user granted).
        let target = PathBuf::from(&destination);
        let downloaded = self.downloaded.iter().any(|d| d == Path::new(&archive));
        let file = if downloaded {
            std::fs::File::open(&archive)
        } else {
            self.read_dirs.open_file(Path::new(&archive))
        };
        let existed = target.exists();
        let opened = file.and_then(|f| Ok((f, self.write_dirs.open_dir(&target)?)));
        let (file, dest) = match opened {
            Ok(handles) => handles,
            Err(e) => return Ok(Err(format!("cannot unpack {archive} into {destination}: {e}"))),
        };
        let buildout = self.grant.read.first().cloned().unwrap_or_default();
        let staging_parent = if target.starts_with(&buildout) {
            buildout
        } else {
            target.parent().map(Path::to_path_buf).unwrap_or(target.clone())
        };
        let mut budget = crate::archive::Budget::new(Some(std::time::Instant::now() + self.time_left()));
        let result = crate::archive::extract_into(
            file,
            &archive,
            &dest,
            &target,
            &staging_parent,
            strip_top_level,
            replace_existing,
            &mut budget,
        );
        if result.is_err() && !existed {
            // A bad archive leaves nothing behind.
            let _ = self.write_dirs.remove(&target);
        }
        Ok(result
            .map(|paths| paths.into_iter().map(|p| p.to_string_lossy().into_owned()).collect())
            .map_err(|e| e.to_string()))
    }

    fn prepared_dirs(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.prepared.iter().map(|p| p.to_string_lossy().into_owned()).collect())
    }

    fn copy_file(&mut self, source: String, destination: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(message) = self.writable(&destination, "write") {
            return Ok(Err(message));
        }
        // Read and written through handles on the part's directories (a download
        // is bo's own file): a link swapped in after the check leads nowhere.
        let downloaded = self.downloaded.iter().any(|d| d == Path::new(&source));
        let bytes = if downloaded {
            std::fs::read(&source)
        } else {
            self.read_dirs.read(Path::new(&source))
        };
        let copied = bytes
            .and_then(|bytes| self.write_dirs.write_file(Path::new(&destination), &bytes, Some(0o644)))
            .map_err(|e| format!("cannot copy {source} to {destination}: {e}"));
        Ok(copied)
    }

    fn options_read(&mut self, names: Vec<String>) -> wasmtime::Result<()> {
        self.services.note_options_read(&self.grant.part, &names);
        Ok(())
    }

    fn symlink(&mut self, target: String, link: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(message) = self.writable(&link, "make a link at") {
            return Ok(Err(message));
        }
        // The target is only a string in the link, but whoever follows it later
        // (bo's own undo does not; a script or a person may) must find only what
        // the part could read anyway: lexically inside its read or write grant.
        let lexical = crate::fsutil::abspath(Path::new("/"), Path::new(&target));
        // Where the target really is, as far as it exists: a link the part planted
        // on the way (WASI lets it make relative ones) must not carry it outside.
        let real = real_prefix(&lexical);
        let really_readable = self
            .grant
            .read
            .iter()
            .chain(&self.grant.write)
            .any(|d| real.starts_with(d.canonicalize().unwrap_or_else(|_| d.clone())));
        if !Path::new(&target).is_absolute() || !self.grant.may_own(&lexical) || !really_readable {
            return Ok(Err(format!(
                "cannot link {link} to {target}: the target must be an absolute path this part may read"
            )));
        }
        let made = self
            .write_dirs
            .symlink(&lexical, Path::new(&link))
            .map_err(|e| format!("cannot link {link} to {target}: {e}"));
        Ok(made)
    }

    fn set_mode(&mut self, path: String, mode: u32) -> wasmtime::Result<Result<(), String>> {
        // Directories bo created for this call belong to the part as well.
        let prepared = self.prepared.iter().any(|p| p == Path::new(&path));
        if !prepared && let Err(message) = self.writable(&path, "set the mode of") {
            return Ok(Err(message));
        }
        // Through a handle, never through a link; permission bits only (no setuid,
        // setgid or sticky bits). Directories bo prepared are reached through
        // their parent (no handle of the part covers them). The handles are keyed by
        // the paths the grant names, as the guest sees them.
        let lexical = Path::new(&path);
        let set = if prepared && !self.write_dirs.covers(lexical) {
            crate::trust::cap::set_mode_entry(lexical, mode)
        } else {
            self.write_dirs.set_mode(lexical, mode)
        };
        Ok(set.map_err(|e| format!("cannot set the mode of {path}: {e}")))
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
            .min(MAX_RUN_TIME)
            // Never past the call's own limit.
            .min(self.time_left());
        // The recipe's environment may not steer which program runs, what it loads
        // or what a shell runs first.
        if let Some((name, _)) = request.env.iter().find(|(k, _)| steers_the_program(k)) {
            return Ok(Err(format!("cannot run {}: a recipe may not set {name}", request.program)));
        }
        // The granted name is looked up on bo's own PATH, once, here.
        let Some(program) = find_program(&request.program) else {
            return Ok(Err(format!("cannot run {}: not found on PATH", request.program)));
        };
        // Confined to what the part may do (see `confine`); the network only with a
        // host grant.
        let confinement = match super::confine::Confinement::prepare(&self.grant, &program, self.grant.has_declared_host_grant()) {
            Ok(confinement) => confinement,
            Err(message) => return Ok(Err(message)),
        };
        if confinement.unconfined {
            if !self.allow_unconfined_programs {
                return Ok(Err(format!(
                    "cannot run {}: this system cannot confine programs (no Landlock); bo runs granted programs unconfined only with --allow-unconfined-programs",
                    request.program
                )));
            }
            warn_unconfined_once();
        }
        let mut command = Command::new(&program);
        command
            .args(&request.args)
            .current_dir(&cwd)
            .env_clear()
            .envs(crate::trust::program_environment())
            .env("HOME", confinement.home.path())
            .env("TMPDIR", confinement.home.path())
            .envs(self.grant.visible_env())
            .envs(request.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        confinement.apply(&mut command);
        // Output reaches the log line by line as it comes (shown with -v).
        let (services, part) = (self.services.clone(), self.grant.part.clone());
        let mut on_line = |line: &str| services.log(&part, Level::Debug, line);
        match run_with_timeout(command, timeout, &mut on_line) {
            Ok(output) => Ok(Ok(output)),
            Err(e) => Ok(Err(format!("cannot run {}: {e}", request.program))),
        }
    }
}

impl PartState {
    /// A file the part may read: one downloaded during this call, or one inside the
    /// directories its sandbox shows it. Returns the resolved path, which is the one
    /// to use: a link planted in the buildout cannot point the host at a file outside.
    fn readable(&self, path: &str) -> Result<PathBuf, String> {
        let real = std::fs::canonicalize(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let downloaded = self.downloaded.iter().any(|d| std::fs::canonicalize(d).is_ok_and(|d| d == real));
        let visible = self
            .grant
            .read
            .iter()
            .chain(&self.grant.write)
            .any(|dir| real.starts_with(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())));
        if downloaded || visible {
            Ok(real)
        } else {
            Err(format!(
                "part {} (recipe {}) may not read {path}: it is neither a download of this part nor inside the buildout",
                self.grant.part, self.grant.recipe
            ))
        }
    }

    /// Checks that `path` lies in a directory the part may write, for a denial that
    /// names the part: `..` is refused; the nearest existing ancestor is resolved
    /// (symlinks included) and the result must still lie in a writable directory.
    /// The write itself goes through the part's directory handles (`write_dirs`),
    /// which hold even if the path changes after this check.
    pub(super) fn writable(&self, path: &str, verb: &str) -> Result<(), String> {
        let denied = || {
            format!(
                "part {} (recipe {}) may not {verb} {path}: not in a directory this part may write",
                self.grant.part, self.grant.recipe
            )
        };
        let target = Path::new(path);
        if !target.is_absolute() || target.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(denied());
        }
        let mut existing = target;
        while existing.symlink_metadata().is_err() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => break,
            }
        }
        let real = std::fs::canonicalize(existing).map_err(|_| denied())?;
        let rest = target.strip_prefix(existing).unwrap_or(Path::new(""));
        // (Joining an empty rest would add a trailing slash.)
        let real_target = if rest.as_os_str().is_empty() { real } else { real.join(rest) };
        let inside = self
            .grant
            .write
            .iter()
            .any(|dir| real_target.starts_with(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())));
        if self.grant.may_write(target) && inside {
            Ok(())
        } else {
            Err(denied())
        }
    }
}

/// Variables a recipe may not set for a program: they choose what runs or is
/// loaded (`PATH`, `LD_*`), or run code first (`BASH_ENV`, `PYTHONSTARTUP`,
/// `PERL5OPT`, `NODE_OPTIONS`, `GIT_*`...).
fn steers_the_program(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "PATH",
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
        "GCONV_PATH",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERLLIB",
        "TAR_OPTIONS",
        "HOME",
        "TMPDIR",
        "ZDOTDIR",
        "LESSOPEN",
        "MAKEFLAGS",
        "MFLAGS",
        "GNUMAKEFLAGS",
        "OPENSSL_CONF",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "CURL_HOME",
        "WGETRC",
        "INPUTRC",
        "SSH_AUTH_SOCK",
        "DBUS_SESSION_BUS_ADDRESS",
        "GNUPGHOME",
        "NPM_CONFIG_USERCONFIG",
        "PIP_CONFIG_FILE",
    ];
    const PREFIXES: &[&str] = &["LD_", "DYLD_", "PYTHON", "PERL5", "RUBY", "GIT_", "BASH_FUNC_", "XDG_", "LUA_"];
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Says once per run, loudly, that programs run unconfined (the user allowed it).
fn warn_unconfined_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        crate::progress::eprintln("warning: this system cannot confine programs (no Landlock): granted programs run with all of your rights (--allow-unconfined-programs)");
    });
}

/// `program` as a path: itself if it names one, else the first match on PATH.
pub(super) fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// How much of a program's output bo keeps (each stream).
const MAX_RUN_OUTPUT: u64 = 16 << 20;

/// Runs `command` (its own process group) for at most `timeout`, handing each line
/// of its output to `on_line` as it comes; stops the whole group on timeout or
/// when bo is interrupted (Ctrl-C, SIGTERM).
fn run_with_timeout(mut command: Command, timeout: Duration, on_line: &mut dyn FnMut(&str)) -> std::io::Result<RunOutput> {
    use std::io::BufRead;
    // Its own process group (on Linux the confinement makes it a session leader,
    // and a PID namespace that dies with it), so that a timeout stops the
    // grandchildren too.
    #[cfg(all(unix, not(target_os = "linux")))]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // Readers send lines through one channel: a program that leaves a background
    // process holding its output open must not keep bo waiting once it has exited.
    let (sender, receiver) = std::sync::mpsc::channel::<(bool, Vec<u8>)>();
    let reader = |pipe: Box<dyn Read + Send>, is_err: bool| {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut pipe = std::io::BufReader::new(pipe);
            let mut kept = 0u64;
            loop {
                let mut line = Vec::new();
                match pipe.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        kept += n as u64;
                        // Past the cap the rest is drained, not kept.
                        if kept <= MAX_RUN_OUTPUT && sender.send((is_err, line)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    };
    reader(Box::new(stdout), false);
    reader(Box::new(stderr), true);
    drop(sender);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut take = |(is_err, line): (bool, Vec<u8>), on_line: &mut dyn FnMut(&str)| {
        on_line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        if is_err { err.extend(line) } else { out.extend(line) }
    };
    let start = Instant::now();
    let stop_group = |child: &mut std::process::Child| {
        // SAFETY: kill(2) on the child's process group, which it leads.
        #[cfg(unix)]
        unsafe {
            libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    };
    let status = loop {
        while let Ok(message) = receiver.try_recv() {
            take(message, on_line);
        }
        if let Some(status) = child.try_wait()? {
            break status.code().unwrap_or(-1);
        }
        if super::interrupted() {
            stop_group(&mut child);
            return Err(std::io::Error::other("interrupted"));
        }
        if start.elapsed() > timeout {
            stop_group(&mut child);
            break -1;
        }
        if let Ok(message) = receiver.recv_timeout(Duration::from_millis(5)) {
            take(message, on_line);
        }
    };
    // What is still in the pipes, for a little while (a background process may
    // hold them open).
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(message) = receiver.recv_timeout(until.saturating_duration_since(Instant::now())) {
        take(message, on_line);
    }
    Ok(RunOutput {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    /// Hosts are read the way the HTTP client reads them, so a URL cannot show the
    /// grant one host and connect to another.
    #[test]
    fn hosts_are_parsed_as_the_client_parses_them() {
        let host = |u: &str| reqwest::Url::parse(u).unwrap().host_str().unwrap().to_string();
        assert_eq!(host("https://user:pw@Example.com:8443/x"), "example.com");
        assert_eq!(host("http://evil.test?@pypi.org/"), "evil.test");
        assert_eq!(host("http://evil.test\\@pypi.org/"), "evil.test");
    }
}

/// `path` with its longest existing prefix resolved (links followed), the rest
/// appended as written.
fn real_prefix(path: &Path) -> std::path::PathBuf {
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(real) = current.canonicalize() {
            return rest.iter().rev().fold(real, |p, c: &std::ffi::OsString| p.join(c));
        }
        match (current.file_name().map(|n| n.to_owned()), current.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}
