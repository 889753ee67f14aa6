//! Confinement for the programs a part runs (`host.run`). A `program` grant lets a
//! recipe run a native program outside the WebAssembly sandbox; confined, that
//! program still sees only what the part may: on Linux the child restricts itself
//! before `exec` with Landlock (read and execute the system and `PATH`, read the
//! buildout, write only the part's writable directories and a private temporary
//! directory, which is also its `HOME` and `TMPDIR`), and, unless the part holds a
//! host grant, has no network (a fresh network namespace in an unprivileged user
//! namespace, and Landlock denying TCP in any case). Where the kernel cannot
//! confine, bo refuses to run the program unless the user said
//! `--allow-unconfined-programs`; never silently weaker.
//!
//! Everything is prepared in bo (the ruleset, the strings); the child between
//! `fork` and `exec` only makes raw system calls, as it must in a threaded program.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::trust::grants::PartGrant;

/// What the child applies to itself, prepared in bo.
pub struct Confinement {
    #[cfg(target_os = "linux")]
    ruleset: Option<std::os::fd::OwnedFd>,
    #[cfg(target_os = "linux")]
    isolate_network: Option<(std::ffi::CString, std::ffi::CString)>,
    /// The program's private `HOME` and `TMPDIR`, removed afterwards.
    pub home: tempfile::TempDir,
    /// Whether the kernel confined nothing (then only with the user's consent).
    pub unconfined: bool,
}

/// Directories every program may read and execute from.
const SYSTEM: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/run", "/nix", "/gnu",
];
/// Devices every program may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/pts",
    "/dev/fd",
    "/dev/shm",
];

/// The directories on `PATH` (and where they really are): programs live there.
/// A `bin` or `shims` directory brings its parent (a tool's own tree, such as
/// `~/.pyenv`), unless that is the home directory or above it.
fn path_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
    let mut dirs = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let tool_tree = real
            .file_name()
            .is_some_and(|n| n == "bin" || n == "shims")
            .then(|| real.parent().map(Path::to_path_buf))
            .flatten()
            .filter(|parent| parent.components().count() > 2 && home.as_ref().is_none_or(|h| !h.starts_with(parent)));
        dirs.extend(tool_tree);
        dirs.push(real);
        dirs.push(dir);
    }
    dirs
}

impl Confinement {
    /// Prepares the confinement for a program `program` run by `grant`'s part.
    pub fn prepare(grant: &PartGrant, program: &Path, allow_network: bool) -> Result<Confinement, String> {
        let home = tempfile::Builder::new()
            .prefix("bo-run-")
            .tempdir()
            .map_err(|e| format!("cannot create a private directory for the program: {e}"))?;
        #[cfg(target_os = "linux")]
        {
            let mut read: Vec<PathBuf> = SYSTEM.iter().map(PathBuf::from).collect();
            read.extend(path_dirs());
            read.extend(grant.read.iter().cloned());
            if let Some(dir) = std::fs::canonicalize(program).ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
                read.push(dir);
            }
            let mut write: Vec<PathBuf> = grant.write.clone();
            write.push(home.path().to_path_buf());
            let devices: Vec<PathBuf> = DEVICES.iter().map(PathBuf::from).collect();
            let ruleset = linux::ruleset(&read, &write, &devices, allow_network)?;
            let unconfined = ruleset.is_none();
            let isolate_network = (!allow_network).then(linux::id_maps);
            Ok(Confinement {
                ruleset,
                isolate_network,
                home,
                unconfined,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (grant, program, allow_network);
            Ok(Confinement { home, unconfined: true })
        }
    }

    /// Makes `command`'s child confine itself before `exec`.
    pub fn apply(&self, command: &mut Command) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let ruleset = self.ruleset.as_ref().map(|f| f.as_raw_fd());
            let maps = self.isolate_network.clone();
            // SAFETY: only async-signal-safe system calls on data prepared before
            // the fork (no allocation, no locks).
            unsafe {
                command.pre_exec(move || linux::confine_self(ruleset, maps.as_ref()));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = command;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::os::fd::OwnedFd;
    use std::path::PathBuf;

    use landlock::{
        ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
    };

    /// The Landlock ruleset, or `None` where the kernel has no Landlock.
    pub fn ruleset(read: &[PathBuf], write: &[PathBuf], devices: &[PathBuf], allow_network: bool) -> Result<Option<OwnedFd>, String> {
        let abi = ABI::V7;
        let fail = |e: landlock::RulesetError| format!("cannot prepare the program's confinement: {e}");
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))
            .map_err(fail)?
            .scope(Scope::AbstractUnixSocket | Scope::Signal)
            .map_err(fail)?;
        if !allow_network {
            ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(fail)?;
        }
        let mut created = ruleset.create().map_err(fail)?;
        let rules = [
            (read, AccessFs::from_read(abi)),
            (write, AccessFs::from_all(abi)),
            (devices, AccessFs::from_read(abi) | AccessFs::WriteFile | AccessFs::IoctlDev),
        ];
        for (dirs, access) in rules {
            for dir in dirs {
                // Missing system directories are simply not there to allow.
                let Ok(fd) = PathFd::new(dir) else { continue };
                let access = if std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
                    access
                } else {
                    access & AccessFs::from_file(abi)
                };
                created = created.add_rule(PathBeneath::new(fd, access)).map_err(fail)?;
            }
        }
        Ok(Option::<OwnedFd>::from(created))
    }

    /// `/proc/self/uid_map` and `gid_map` lines mapping the user to itself in a new
    /// user namespace (prepared before the fork).
    pub fn id_maps() -> (CString, CString) {
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        (
            CString::new(format!("{uid} {uid} 1\n")).unwrap_or_default(),
            CString::new(format!("{gid} {gid} 1\n")).unwrap_or_default(),
        )
    }

    fn write_proc(path: &[u8], text: &CString) -> bool {
        // SAFETY: raw open/write/close on NUL-terminated static paths.
        unsafe {
            let fd = libc::open(path.as_ptr() as *const libc::c_char, libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return false;
            }
            let bytes = text.as_bytes();
            let ok = libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) == bytes.len() as isize;
            libc::close(fd);
            ok
        }
    }

    /// In the child, before `exec`: a new network namespace (if asked; inside a
    /// new user namespace, so no privilege is needed), then no new privileges and
    /// the Landlock domain.
    pub fn confine_self(ruleset: Option<i32>, maps: Option<&(CString, CString)>) -> std::io::Result<()> {
        if let Some((uid_map, gid_map)) = maps {
            // SAFETY: unshare(2) in the single-threaded child.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0 {
                let _ = write_proc(b"/proc/self/setgroups\0", &CString::new("deny").unwrap_or_default());
                write_proc(b"/proc/self/uid_map\0", uid_map);
                write_proc(b"/proc/self/gid_map\0", gid_map);
            }
            // Without user namespaces, Landlock still denies TCP.
        }
        // SAFETY: prctl and landlock_restrict_self on a descriptor bo prepared.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = ruleset
                && libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
