//! Confinement for the programs a part runs (`host.run`). A `program` grant lets a
//! recipe run a native program outside the WebAssembly sandbox; confined, that
//! program still sees only what the part may. On Linux the child, before `exec`:
//!
//! - starts its own session (no controlling terminal to push keystrokes into with
//!   `TIOCSTI`; one process group for bo to stop whole);
//! - enters an unprivileged user namespace with its own PID namespace, whose
//!   first process it is: when it exits, or bo stops it, everything it started
//!   dies with it (a `setsid`/`nohup` daemon included);
//! - unless the part holds a host grant its recipe declares, also a fresh network
//!   namespace, and Landlock denies TCP too;
//! - may not create Unix sockets (a seccomp filter: Landlock does not cover
//!   connecting to a named socket, such as an ssh-agent, Docker or D-Bus);
//! - restricts itself with Landlock: read and execute the system and `PATH`, read
//!   the buildout, write only the part's writable directories and a private
//!   temporary directory (its `HOME` and `TMPDIR`); abstract sockets and signals
//!   outside its domain are refused.
//!
//! Where the kernel cannot do all of it, bo refuses to run the program unless the
//! user said `--allow-unconfined-programs` (then it confines what it can, and
//! says so once, loudly); never silently weaker. Everything is prepared in bo
//! (the ruleset, the filter, the strings); the child between `fork` and `exec`
//! only makes raw system calls, as it must in a threaded program.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::trust::grants::PartGrant;

/// What the child applies to itself, prepared in bo.
pub struct Confinement {
    #[cfg(target_os = "linux")]
    ruleset: Option<std::os::fd::OwnedFd>,
    #[cfg(target_os = "linux")]
    namespaces: linux::Namespaces,
    #[cfg(target_os = "linux")]
    no_unix_sockets: Option<Vec<libc::sock_filter>>,
    /// The program's private `HOME` and `TMPDIR`, removed afterwards.
    pub home: tempfile::TempDir,
    /// Whether the kernel cannot confine fully (then only with the user's consent).
    pub unconfined: bool,
}

/// Directories every program may read and execute from. Not `/run` (sockets and
/// secrets live there), not `/tmp` (the program has its own).
const SYSTEM: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/nix", "/gnu",
];
/// Devices every program may read and write. Not the terminal.
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/fd"];
/// What a program that may use the network also reads: the resolver's files.
const NETWORK: &[&str] = &["/run/systemd/resolve", "/run/resolvconf", "/run/NetworkManager"];

/// The directories on `PATH` (and where they really are): programs live there.
/// A version manager's `shims` directory brings its own tree (`~/.pyenv` for
/// `~/.pyenv/shims`), where the real interpreters are; a `bin` directory brings
/// nothing more (`~/.cargo/bin` must not open `~/.cargo/credentials.toml`).
fn path_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
    let mut dirs = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let tool_tree = real
            .file_name()
            .is_some_and(|n| n == "shims")
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
        Confinement::for_paths(&grant.read, &grant.write, program, allow_network)
    }

    /// Prepares the confinement for `program` reading (and executing from) `read`
    /// besides the system and `PATH`, writing only `write` and its private home.
    /// bo's own builds of source distributions run so (their `setup.py` is code
    /// the configuration chose), as do the programs parts run.
    pub fn for_paths(read: &[PathBuf], write: &[PathBuf], program: &Path, allow_network: bool) -> Result<Confinement, String> {
        let home = tempfile::Builder::new()
            .prefix("bo-run-")
            .tempdir()
            .map_err(|e| format!("cannot create a private directory for the program: {e}"))?;
        #[cfg(target_os = "linux")]
        {
            let mut readable: Vec<PathBuf> = SYSTEM.iter().map(PathBuf::from).collect();
            if allow_network {
                readable.extend(NETWORK.iter().map(PathBuf::from));
            }
            readable.extend(path_dirs());
            readable.extend(read.iter().cloned());
            if let Some(dir) = std::fs::canonicalize(program).ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
                readable.push(dir);
            }
            let mut writable: Vec<PathBuf> = write.to_vec();
            writable.push(home.path().to_path_buf());
            let devices: Vec<PathBuf> = DEVICES.iter().map(PathBuf::from).collect();
            let no_unix_sockets = linux::unix_socket_filter();
            // Fully, or not at all: a kernel that can only do part of it (no TCP
            // rules, no scoping) counts as one that cannot confine.
            let (ruleset, mut unconfined) = match linux::ruleset(&readable, &writable, &devices, allow_network, true) {
                Ok(Some(ruleset)) => (Some(ruleset), false),
                _ => (linux::ruleset(&readable, &writable, &devices, allow_network, false)?, true),
            };
            unconfined |= no_unix_sockets.is_none() || !linux::user_namespaces();
            Ok(Confinement {
                ruleset,
                namespaces: linux::Namespaces::new(!allow_network),
                no_unix_sockets,
                home,
                unconfined,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (read, write, program, allow_network);
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
            let namespaces = self.namespaces.clone();
            let filter = self.no_unix_sockets.clone();
            // Unconfined by the user's choice: then what cannot be applied does not
            // stop the program either.
            let strict = !self.unconfined;
            // SAFETY: only async-signal-safe system calls on data prepared before
            // the fork (no allocation, no locks).
            unsafe {
                command.pre_exec(move || linux::confine_self(ruleset, &namespaces, filter.as_deref(), strict));
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

    /// The Landlock ruleset, or `None` where the kernel has no Landlock. `full`:
    /// every right bo asks for must be enforced (else an error); otherwise what
    /// the kernel can do.
    pub fn ruleset(
        read: &[PathBuf],
        write: &[PathBuf],
        devices: &[PathBuf],
        allow_network: bool,
        full: bool,
    ) -> Result<Option<OwnedFd>, String> {
        let abi = ABI::V6;
        let fail = |e: landlock::RulesetError| format!("cannot prepare the program's confinement: {e}");
        let level = if full {
            CompatLevel::HardRequirement
        } else {
            CompatLevel::BestEffort
        };
        let mut ruleset = Ruleset::default()
            .set_compatibility(level)
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
            (devices, AccessFs::from_read(abi) | AccessFs::WriteFile),
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

    /// The namespaces the child enters: user and PID always, network unless the
    /// part may use it; and the ID maps (the user mapped to itself), prepared
    /// before the fork.
    #[derive(Clone)]
    pub struct Namespaces {
        flags: libc::c_int,
        uid_map: CString,
        gid_map: CString,
    }

    impl Namespaces {
        pub fn new(isolate_network: bool) -> Namespaces {
            // SAFETY: getuid/getgid cannot fail.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            let network = if isolate_network { libc::CLONE_NEWNET } else { 0 };
            Namespaces {
                flags: libc::CLONE_NEWUSER | libc::CLONE_NEWPID | network,
                uid_map: CString::new(format!("{uid} {uid} 1\n")).unwrap_or_default(),
                gid_map: CString::new(format!("{gid} {gid} 1\n")).unwrap_or_default(),
            }
        }
    }

    /// Whether this process may create a user namespace (tried in a short-lived
    /// child, once per run).
    pub fn user_namespaces() -> bool {
        static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WORKS.get_or_init(|| {
            std::process::Command::new("/bin/true")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn_with_unshare()
                .is_ok_and(|mut c| c.wait().is_ok_and(|s| s.success()))
        })
    }

    trait SpawnWithUnshare {
        fn spawn_with_unshare(&mut self) -> std::io::Result<std::process::Child>;
    }

    impl SpawnWithUnshare for std::process::Command {
        fn spawn_with_unshare(&mut self) -> std::io::Result<std::process::Child> {
            use std::os::unix::process::CommandExt;
            // SAFETY: one system call in the child.
            unsafe {
                self.pre_exec(|| {
                    if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWPID) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
            self.spawn()
        }
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

    /// A classic BPF program for seccomp: `socket(AF_UNIX, ...)` fails with
    /// `EACCES`, the x32 ABI is refused, another architecture kills the process,
    /// everything else is allowed. `None` where bo has no filter for this build.
    pub fn unix_socket_filter() -> Option<Vec<libc::sock_filter>> {
        const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
        const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
        let (arch, socket_nr): (u32, u32) = if cfg!(target_arch = "x86_64") {
            (AUDIT_ARCH_X86_64, 41)
        } else if cfg!(target_arch = "aarch64") {
            (AUDIT_ARCH_AARCH64, 198)
        } else {
            return None;
        };
        let stmt = |code: u16, k: u32| libc::sock_filter { code, jt: 0, jf: 0, k };
        let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
        let (ld_w_abs, jeq_k, jge_k, ret_k) = (0x20, 0x15, 0x35, 0x06);
        const ALLOW: u32 = 0x7fff_0000;
        const ERRNO_EACCES: u32 = 0x0005_0000 | libc::EACCES as u32;
        const KILL_PROCESS: u32 = 0x8000_0000;
        // io_uring can create sockets in the kernel (`IORING_OP_SOCKET`) without
        // the `socket` call: it is refused whole (425-427 on both architectures).
        const IO_URING_SETUP: u32 = 425;
        const IO_URING_REGISTER: u32 = 427;
        Some(vec![
            stmt(ld_w_abs, 4), // seccomp_data.arch
            jump(jeq_k, arch, 1, 0),
            stmt(ret_k, KILL_PROCESS),
            stmt(ld_w_abs, 0), // seccomp_data.nr
            jump(jge_k, 0x4000_0000, 0, 1),
            stmt(ret_k, ERRNO_EACCES),
            jump(jge_k, IO_URING_SETUP, 0, 3),
            jump(jge_k, IO_URING_REGISTER + 1, 2, 0),
            stmt(ret_k, ERRNO_EACCES),
            stmt(ld_w_abs, 0), // (not reached; keeps the offsets simple)
            jump(jeq_k, socket_nr, 0, 3),
            stmt(ld_w_abs, 16), // seccomp_data.args[0], low half
            jump(jeq_k, libc::AF_UNIX as u32, 0, 1),
            stmt(ret_k, ERRNO_EACCES),
            stmt(ret_k, ALLOW),
        ])
    }

    /// In the child, before `exec`: its own session, new namespaces, no new
    /// privileges, no Unix sockets, and the Landlock domain; then it forks, and the
    /// program runs as the first process of the new PID namespace while this one
    /// waits for it and exits with its status. `strict`: anything that cannot be
    /// applied fails the run.
    pub fn confine_self(
        ruleset: Option<i32>,
        namespaces: &Namespaces,
        filter: Option<&[libc::sock_filter]>,
        strict: bool,
    ) -> std::io::Result<()> {
        // SAFETY: system calls in the single-threaded child on data prepared
        // before the fork.
        unsafe {
            // Nothing of bo's but the standard streams reaches the program (an
            // inherited descriptor is not checked by Landlock).
            const CLOSE_RANGE_CLOEXEC: u32 = 4;
            if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) != 0 && strict {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let isolated = libc::unshare(namespaces.flags) == 0;
            if isolated {
                let _ = write_proc(b"/proc/self/setgroups\0", &CString::new("deny").unwrap_or_default());
                write_proc(b"/proc/self/uid_map\0", &namespaces.uid_map);
                write_proc(b"/proc/self/gid_map\0", &namespaces.gid_map);
            } else if strict {
                // Landlock alone would not stop UDP nor keep daemons from
                // outliving the run: never weaker.
                return Err(std::io::Error::other("no user namespaces on this system"));
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(filter) = filter {
                let program = libc::sock_fprog {
                    len: filter.len() as u16,
                    filter: filter.as_ptr() as *mut libc::sock_filter,
                };
                if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program as *const libc::sock_fprog) != 0 && strict {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(fd) = ruleset
                && libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if isolated {
                let pid = libc::fork();
                if pid < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if pid > 0 {
                    // The waiter: bo's child, in the program's session and group.
                    // It keeps no descriptor but the standard ones (the one that
                    // tells bo the program started must close when it does).
                    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                        for fd in 3..4096 {
                            libc::close(fd);
                        }
                    }
                    let mut status = 0;
                    loop {
                        let got = libc::waitpid(pid, &mut status, 0);
                        if got == pid || (got < 0 && *libc::__errno_location() != libc::EINTR) {
                            break;
                        }
                    }
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    libc::_exit(code);
                }
                // The program: if the waiter dies (bo stopped it), so does the
                // program, and with it its whole PID namespace (even if it left
                // the session with `setsid`).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}
